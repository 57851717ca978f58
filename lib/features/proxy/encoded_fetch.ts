/**
 * A `fetch` for forwarding that keeps encoded bodies as the origin sent them: requests that ask
 * for a content coding go through `rawFetch` (raw_fetch.ts; Deno's global `fetch` would decode
 * the body), the rest through the global fetch. The `node:http` transport is loaded on the first
 * request that needs it, not at start-up: its import loads Deno's Node compatibility layer, which
 * would delay every cold start (docs/cold_start.md).
 */

/** The transport of encoded bodies, loaded once on first use (a failed load is tried again). */
let loading: Promise<typeof fetch> | null = null;
function loadRawFetch(): Promise<typeof fetch> {
  loading ??= import("./raw_fetch.ts").then(({ rawFetch }) => rawFetch()).catch((error) => {
    loading = null;
    throw error;
  });
  return loading;
}

/**
 * Routes each request by its `Accept-Encoding`: one that asks for a coding goes through
 * `raw` (by default `rawFetch`, raw_fetch.ts, which hands the encoded body over as it is, loaded
 * on the first such request), others through `fallback`.
 */
export function encodedFetch(fallback: typeof fetch, raw?: typeof fetch): typeof fetch {
  return function fetchKeepingEncoding(input, init) {
    const ae = acceptEncodingOf(input, init?.headers);
    if (ae === null || ae.trim().toLowerCase() === "identity") return fallback(input, init);
    if (raw !== undefined) return raw(input, init);
    return loadRawFetch().then((loaded) => {
      raw = loaded;
      return loaded(input, init);
    });
  };
}

/** The request's `Accept-Encoding`, read from whichever form its fields were given in. */
function acceptEncodingOf(input: RequestInfo | URL, given: HeadersInit | undefined): string | null {
  if (given === undefined) {
    return input instanceof Request ? input.headers.get("accept-encoding") : null;
  }
  if (given instanceof Headers) return given.get("accept-encoding");
  if (Array.isArray(given)) return new Headers(given).get("accept-encoding");
  // A record: the proxy's own are lower-case (`upstreamHeaders`); others may not be.
  const record = given as Record<string, string>;
  const exact = record["accept-encoding"];
  if (exact !== undefined) return exact;
  for (const name in record) if (name.toLowerCase() === "accept-encoding") return record[name];
  return null;
}

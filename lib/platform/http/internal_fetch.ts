/** Routes `internal://<name>/…` URLs to in-process handlers; everything else to real fetch. */

/** An in-process origin. */
export type InternalHandler = (req: Request) => Response | Promise<Response>;

/** A `fetch` that serves `internal://<name>` from `handlers` and passes other URLs on. */
export function internalFetch(
  handlers: Record<string, InternalHandler>,
  fallback: typeof fetch,
): typeof fetch {
  const names = Object.keys(handlers);
  if (names.length === 0) return fallback;
  return async function fetchWithInternal(input, init) {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith("internal://")) return await fallback(input, init);
    const parsed = new URL(url);
    const handler = handlers[parsed.host];
    if (!handler) throw new TypeError(`No in-process origin named: ${parsed.host}`);
    // In-process handlers see a normal http URL, as a remote origin would.
    const request = new Request(
      `http://${parsed.host}.internal${parsed.pathname}${parsed.search}`,
      {
        ...init,
        signal: init?.signal,
      },
    );
    return await handler(request);
  };
}

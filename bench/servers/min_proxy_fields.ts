/**
 * The minimal proxy (`min_proxy.ts`) plus the header fields every Outpost forward carries, and
 * nothing else: `X-Forwarded-For/-Proto/-Host`, `Via`, `X-Request-Id` and a normalised
 * `Accept-Encoding` to the origin; `X-Upstream-Region`, `X-Cache`, `Cache-Status`,
 * `X-Request-Id`, `X-Served-By` and `Server-Timing` back to the client. The floor, on Deno, for a
 * forward that says what an edge's forward says.
 */
const port = Number(Deno.env.get("PORT") ?? 8100);
const origin = Deno.env.get("ORIGIN_URL");
if (!origin) throw new Error("ORIGIN_URL is required");
let counter = 0;

Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, async (req, info) => {
  const started = performance.now();
  const url = new URL(req.url);
  const id = `bench-${(++counter).toString(36)}`;
  const headers: Record<string, string> = {};
  req.headers.forEach((value, name) => {
    if (name !== "host" && name !== "connection") headers[name] = value;
  });
  headers["x-forwarded-for"] = info.remoteAddr.hostname;
  headers["x-forwarded-proto"] = "http";
  headers["x-forwarded-host"] = url.host;
  headers["via"] = "1.1 outpost-bench";
  headers["x-request-id"] = id;
  headers["accept-encoding"] = "identity";
  const upstream = await fetch(origin + url.pathname + url.search, {
    method: req.method,
    headers,
    signal: req.signal,
  });
  const res = new Response(upstream.body, {
    status: upstream.status,
    headers: upstream.headers,
  });
  const h = res.headers;
  h.delete("transfer-encoding");
  h.set("x-upstream-region", "bench");
  h.set("x-cache", "BYPASS");
  h.set("cache-status", "Outpost; fwd=bypass; fwd-status=200; detail=hit-for-pass");
  h.set("x-request-id", id);
  h.set("x-served-by", "bench");
  h.set("server-timing", `edge;dur=${(performance.now() - started).toFixed(2)}`);
  return res;
});

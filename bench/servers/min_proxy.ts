/**
 * The smallest useful Deno proxy, the floor for what forwarding costs on Deno: every request
 * passed to `ORIGIN_URL` with the global `fetch`, its method, headers and body as they came.
 * `Deno.serve((req) => fetch(origin + path, req))`, nothing else.
 */
const port = Number(Deno.env.get("PORT") ?? 8100);
const origin = Deno.env.get("ORIGIN_URL");
if (!origin) throw new Error("ORIGIN_URL is required");

Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
  const url = new URL(req.url);
  return fetch(origin + url.pathname + url.search, req);
});

/**
 * A small origin for the forwarding benchmarks (`bench/load/forwarding.ts`): bare `Deno.serve`
 * answering ~80 bytes of JSON. `/cacheable/*` is public for an hour; every other path says
 * `Cache-Control: no-store` (what an edge forwards every time: the transport's own cost).
 * `/gzip/*` answers gzip to a request that accepts it (a compressed body made once, 1 KiB of JSON
 * before compression), like an origin that compresses: what a proxy must pass through encoded.
 */
import { gzipSync } from "node:zlib";

const port = Number(Deno.env.get("PORT") ?? 8100);
const NO_STORE = { "content-type": "application/json", "cache-control": "no-store" };
const PUBLIC = { "content-type": "application/json", "cache-control": "public, max-age=3600" };
const page = JSON.stringify({
  items: Array.from({ length: 24 }, (_, i) => ({ id: i, name: `item-${i}` })),
});
const gzipped = gzipSync(new TextEncoder().encode(page)) as Uint8Array<ArrayBuffer>;
const GZIP = { ...NO_STORE, "content-encoding": "gzip", vary: "Accept-Encoding" };

Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
  // The path starts after `http://host:port`: no URL parse for a routing decision this small.
  const url = req.url;
  const path = url.indexOf("/", 8);
  if (url.startsWith("/gzip/", path)) {
    return /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "")
      ? new Response(gzipped, { headers: GZIP })
      : new Response(page, { headers: { ...NO_STORE, vary: "Accept-Encoding" } });
  }
  const cacheable = url.startsWith("/cacheable/", path);
  const body = `{"ok":true,"cacheable":${cacheable},"at":${Date.now()},"pad":"0123456789abcdef"}`;
  return new Response(body, { headers: cacheable ? PUBLIC : NO_STORE });
});

/**
 * One page served with or without compression, each way it can be done, for comparing what
 * compressing a response costs the server (`bench/load/compression.ts`). `MODE`:
 * `identity` (as it is; also the origin behind an edge, with Cache-Control and an ETag), `copy`
 * (compressed once at start, br or gzip by Accept-Encoding: what the edge's cached copies cost),
 * `stream-br` / `stream-gzip` (a `CompressionStream` per response), `auto` (`Deno.serve`'s
 * `automaticCompression`). Pages: `/page.html` (~24 KB) and `/data.json` (~4 KB); `/nostore`
 * answers small uncacheable JSON.
 */
import { encodeSync } from "../../lib/features/cache/transcode.ts";
import { htmlPage, jsonDocument } from "../../tests/features/cache/_origins.ts";

const port = Number(Deno.env.get("PORT") ?? 8100);
const mode = Deno.env.get("MODE") ?? "identity";
const enc = new TextEncoder();
const pages = new Map([
  ["/page.html", { type: "text/html; charset=utf-8", body: enc.encode(htmlPage()) }],
  ["/data.json", { type: "application/json", body: enc.encode(jsonDocument()) }],
]);
const copies = new Map(
  [...pages].map((
    [path, p],
  ) => [path, { br: encodeSync(p.body, "br"), gzip: encodeSync(p.body, "gzip") }]),
);

Deno.serve({
  port,
  hostname: "127.0.0.1",
  onListen() {},
  automaticCompression: mode === "auto",
} as Deno.ServeTcpOptions, (req) => {
  const path = new URL(req.url).pathname;
  // An uncacheable answer: what an edge forwards every time (the transport's own cost).
  if (path === "/nostore") {
    return new Response(`{"ok":true,"at":${Date.now()}}`, {
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  }
  const page = pages.get(path);
  if (!page) return new Response("not found", { status: 404 });
  const ae = req.headers.get("accept-encoding") ?? "";
  const headers: Record<string, string> = { "content-type": page.type };
  if (mode === "identity") {
    headers["cache-control"] = "public, max-age=3600";
    headers.etag = `"${page.body.byteLength}"`;
    return new Response(page.body, { headers });
  }
  const coding = /\bbr\b/.test(ae) ? "br" : /\bgzip\b/.test(ae) ? "gzip" : null;
  if (coding === null || mode === "auto") return new Response(page.body, { headers });
  headers["content-encoding"] = coding;
  headers.vary = "Accept-Encoding";
  if (mode === "copy") {
    return new Response(copies.get(path)![coding] as Uint8Array<ArrayBuffer>, { headers });
  }
  const format = (coding === "br" ? "brotli" : "gzip") as CompressionFormat;
  const stream = new Blob([page.body]).stream().pipeThrough(new CompressionStream(format));
  return new Response(stream, { headers });
});

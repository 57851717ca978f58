/**
 * Origins that compress as real ones do, on port 0: one like nginx with `gzip on; gzip_vary on`
 * (gzip only when asked, `Vary: Accept-Encoding` always, a weak ETag on what it gzipped), one
 * that never compresses, and one that always answers gzip whatever the request says. A query
 * with `nostore` makes any page uncacheable.
 */

import zlib from "node:zlib";
import type { Clock } from "../../../lib/core/clock.ts";

/**
 * A page like a real one (~24 KB): markup that repeats the way templates do around text that
 * does not (a few hundred words in a pseudo-random order), so it compresses about as much as a
 * real page, 4-5x with gzip, not 10x.
 */
export function htmlPage(seed = 1): string {
  const syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "de", "po", "ra", "tes"];
  let x = seed * 2654435761 >>> 0;
  const next = (n: number) => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return x % n;
  };
  const word = () => {
    let w = "";
    for (let i = 0, n = 1 + next(3); i < n; i++) w += syllables[next(syllables.length)];
    return w;
  };
  let out = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Outpost ' +
    '</title><link rel="stylesheet" href="/static/site.css"></head><body>\n<main>\n';
  for (let i = 0; out.length < 24_000; i++) {
    const words = Array.from({ length: 8 + next(12) }, word).join(" ");
    out += `<article class="card card-${next(6)}" id="a${i}"><h2><a href="/p/${next(9999)}">` +
      `${word()} ${word()}</a></h2><p>${words}.</p><span class="meta">${next(28) + 1} Mar, ` +
      `${next(90) + 10} comments</span></article>\n`;
  }
  return out + "</main>\n</body></html>\n";
}

/** A JSON document like an API's, ~4 KB. */
export function jsonDocument(): string {
  const items = Array.from({ length: 60 }, (_, i) => ({
    id: i,
    name: `item-${i}`,
    tags: ["a", "b", i % 2 ? "odd" : "even"],
    price: Math.round(i * 137.5) / 100,
  }));
  return JSON.stringify({ items, total: items.length });
}

/** A body that does not compress (like an image). */
export function binaryBody(size = 8192): Uint8Array {
  const out = new Uint8Array(size);
  let x = 2463534242;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A compressing test origin. */
export interface CompressingOrigin extends AsyncDisposable {
  url: string;
  /** Requests received, by the `Accept-Encoding` they carried (`-` for none). */
  byEncoding: Map<string, number>;
  requests(): number;
  /** What the origin sends for a path, decoded (the bytes a client must end up with). */
  identity(path: string): Uint8Array;
}

interface Page {
  type: string;
  body: Uint8Array;
  cacheControl: string;
}

function pages(): Map<string, Page> {
  const enc = new TextEncoder();
  const cc = "public, max-age=60";
  return new Map([
    ["/page.html", {
      type: "text/html; charset=utf-8",
      body: enc.encode(htmlPage()),
      cacheControl: cc,
    }],
    ["/data.json", {
      type: "application/json",
      body: enc.encode(jsonDocument()),
      cacheControl: cc,
    }],
    ["/image.bin", { type: "image/png", body: binaryBody(), cacheControl: cc }],
    [
      "/big.html",
      { type: "text/html", body: enc.encode(htmlPage(3).repeat(20)), cacheControl: cc },
    ],
    [
      "/fixed.html",
      { type: "text/html", body: enc.encode(htmlPage(5)), cacheControl: `${cc}, no-transform` },
    ],
  ]);
}

function strongEtag(body: Uint8Array): string {
  let h = 2166136261;
  for (let i = 0; i < body.length; i++) h = Math.imul(h ^ body[i], 16777619);
  return `"${(h >>> 0).toString(16)}-${body.length}"`;
}

function serve(
  handler: (req: Request, page: Page) => Response,
  clock?: Clock,
): CompressingOrigin {
  const byEncoding = new Map<string, number>();
  const all = pages();
  let count = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    count++;
    const ae = req.headers.get("accept-encoding") ?? "-";
    byEncoding.set(ae, (byEncoding.get(ae) ?? 0) + 1);
    const url = new URL(req.url);
    const found = all.get(url.pathname);
    if (!found) return new Response("not found", { status: 404 });
    // `?nostore`: the same page, uncacheable (forwarded every time).
    const page = url.searchParams.has("nostore") ? { ...found, cacheControl: "no-store" } : found;
    const res = handler(req, page);
    res.headers.set("date", new Date(clock?.now() ?? Date.now()).toUTCString());
    return res;
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    byEncoding,
    requests: () => count,
    identity: (path) => all.get(path)!.body,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/**
 * Like nginx with `gzip on; gzip_vary on; gzip_types *`: gzip when the request accepts it (no
 * br), `Vary: Accept-Encoding` on both, the ETag made weak when gzipped, 304 on a match.
 */
export function nginxLikeOrigin(clock?: Clock): CompressingOrigin {
  return serve((req, page) => {
    const accepts = /\bgzip\b/i.test(req.headers.get("accept-encoding") ?? "") &&
      !/\bgzip;\s*q=0(\.0*)?\b/i.test(req.headers.get("accept-encoding") ?? "");
    const compress = accepts && page.type !== "image/png";
    const etag = compress ? `W/${strongEtag(page.body)}` : strongEtag(page.body);
    const headers: Record<string, string> = {
      "content-type": page.type,
      "cache-control": page.cacheControl,
      vary: "Accept-Encoding",
      etag,
    };
    const inm = req.headers.get("if-none-match");
    if (inm !== null && inm.replace(/^W\//, "") === etag.replace(/^W\//, "")) {
      return new Response(null, { status: 304, headers });
    }
    if (!compress) return new Response(page.body as Uint8Array<ArrayBuffer>, { headers });
    headers["content-encoding"] = "gzip";
    return new Response(zlib.gzipSync(page.body) as Uint8Array<ArrayBuffer>, { headers });
  }, clock);
}

/** Never compresses and sends no Vary (nginx with `gzip off`): one identity entry per URL. */
export function plainOrigin(clock?: Clock): CompressingOrigin {
  return serve((req, page) => {
    const etag = strongEtag(page.body);
    const headers = { "content-type": page.type, "cache-control": page.cacheControl, etag };
    if (req.headers.get("if-none-match") === etag) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(page.body as Uint8Array<ArrayBuffer>, { headers });
  }, clock);
}

/** Always gzip, whatever the request accepts; no Vary; a strong ETag. */
export function alwaysGzipOrigin(clock?: Clock): CompressingOrigin {
  const gzipped = new Map<Uint8Array, Uint8Array>();
  return serve((_req, page) => {
    let body = gzipped.get(page.body);
    if (!body) gzipped.set(page.body, body = zlib.gzipSync(page.body));
    return new Response(body as Uint8Array<ArrayBuffer>, {
      headers: {
        "content-type": page.type,
        "cache-control": page.cacheControl,
        "content-encoding": "gzip",
        etag: strongEtag(body),
      },
    });
  }, clock);
}

/**
 * Compressed storage and delivery end to end, against origins that compress like real ones. The
 * client is `rawFetch`, which never decodes, so the bytes on the wire are what is checked.
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { ManualClock } from "../../../lib/core/clock.ts";
import { rawFetch } from "../../../lib/features/proxy/raw_fetch.ts";
import { makeConfig, startEdge } from "../../helpers.ts";
import {
  alwaysGzipOrigin,
  type CompressingOrigin,
  nginxLikeOrigin,
  plainOrigin,
} from "./_origins.ts";

const client = rawFetch();

function wholeSecondClock(): ManualClock {
  return new ManualClock(Math.floor(Date.now() / 1000) * 1000);
}

/** Decodes a body by its Content-Encoding (independently of the code under test). */
function decoded(res: Response, bytes: Uint8Array): Uint8Array {
  switch (res.headers.get("content-encoding")) {
    case null:
      return bytes;
    case "gzip":
      return new Uint8Array(zlib.gunzipSync(bytes));
    case "br":
      return new Uint8Array(zlib.brotliDecompressSync(bytes));
    default:
      throw new Error(`unexpected coding ${res.headers.get("content-encoding")}`);
  }
}

async function edgeFor(origin: CompressingOrigin, clock: ManualClock, cache = {}) {
  return await startEdge(makeConfig(origin.url, { experiments: [], cache }), { clock });
}

async function get(
  url: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<{ res: Response; bytes: Uint8Array }> {
  const res = await client(url, { headers, method });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

Deno.test("an nginx-like origin (gzip when asked, Vary: Accept-Encoding)", async (t) => {
  const clock = wholeSecondClock();
  await using origin = nginxLikeOrigin(clock);
  await using e = await edgeFor(origin, clock);
  const url = `${e.url}/page.html`;
  const page = origin.identity("/page.html");

  await t.step("a browser gets the origin's gzip, stored as it came", async () => {
    const { res, bytes } = await get(url, { "accept-encoding": "gzip, deflate, br, zstd" });
    assert.equal(res.headers.get("x-cache"), "MISS");
    assert.match(res.headers.get("cache-status") ?? "", /stored/);
    assert.equal(res.headers.get("content-encoding"), "gzip");
    assert.deepEqual(decoded(res, bytes), page);
    // The origin was asked in normalised form.
    assert.equal(origin.byEncoding.get("br, gzip"), 1);
    await e.edge.cache!.settled();
  });
  await t.step("another browser's spelling of br+gzip is a hit on the same entry", async () => {
    const { res, bytes } = await get(url, { "accept-encoding": "br;q=1.0, gzip;q=0.8, *;q=0.1" });
    assert.equal(res.headers.get("x-cache"), "HIT");
    assert.equal(res.headers.get("content-encoding"), "gzip");
    assert.equal(Number(res.headers.get("content-length")), bytes.byteLength);
    assert.match(res.headers.get("etag") ?? "", /^W\//, "nginx's own weak ETag, as it sent it");
    assert.deepEqual(decoded(res, bytes), page);
    assert.equal(origin.requests(), 1);
  });
  await t.step("a client without Accept-Encoding fills the identity variant", async () => {
    const { res, bytes } = await get(url);
    assert.equal(res.headers.get("x-cache"), "MISS");
    assert.equal(res.headers.get("content-encoding"), null);
    assert.deepEqual(bytes, page);
    assert.equal(origin.byEncoding.get("identity"), 1);
    await e.edge.cache!.settled();
    const again = await get(url, { "accept-encoding": "identity" });
    assert.equal(again.res.headers.get("x-cache"), "HIT");
    assert.equal(Number(again.res.headers.get("content-length")), page.byteLength);
    assert.match(again.res.headers.get("vary") ?? "", /accept-encoding/i);
  });
  await t.step("gzip-only and br-only clients: one more entry each, at most three", async () => {
    const gzipOnly = await get(url, { "accept-encoding": "gzip" });
    assert.equal(gzipOnly.res.headers.get("content-encoding"), "gzip");
    assert.deepEqual(decoded(gzipOnly.res, gzipOnly.bytes), page);
    await e.edge.cache!.settled();
    // br without gzip shares the br entry (which holds gzip from this origin): it cannot take
    // gzip, so the edge decodes and compresses to br.
    const brOnly = await get(url, { "accept-encoding": "br, gzip;q=0" });
    assert.equal(brOnly.res.headers.get("x-cache"), "HIT");
    assert.equal(brOnly.res.headers.get("content-encoding"), "br");
    assert.match(brOnly.res.headers.get("etag") ?? "", /^W\//);
    assert.deepEqual(decoded(brOnly.res, brOnly.bytes), page);
    assert.equal(origin.requests(), 3);
    let slots = 0;
    for await (const _ of e.kv.list({ prefix: ["cache", "meta"] })) slots++;
    assert.equal(slots, 4, "three variants and the URL's Vary marker");
  });
  await t.step("a byte range of the gzip representation is cut from the stored bytes", async () => {
    const full = await get(url, { "accept-encoding": "gzip" });
    const part = await get(url, { "accept-encoding": "gzip", range: "bytes=10-99" });
    assert.equal(part.res.status, 206);
    assert.equal(part.res.headers.get("content-encoding"), "gzip");
    assert.equal(part.res.headers.get("content-range"), `bytes 10-99/${full.bytes.byteLength}`);
    assert.deepEqual(part.bytes, full.bytes.subarray(10, 100));
    const plain = await get(url, { range: "bytes=0-9" });
    assert.equal(plain.res.status, 206);
    assert.deepEqual(plain.bytes, page.subarray(0, 10));
  });
  await t.step("HEAD gives the representation's length", async () => {
    const head = await get(url, { "accept-encoding": "gzip" }, "HEAD");
    const body = await get(url, { "accept-encoding": "gzip" });
    assert.equal(head.bytes.byteLength, 0);
    assert.equal(Number(head.res.headers.get("content-length")), body.bytes.byteLength);
  });
  await t.step(
    "revalidation keeps each variant's coding (the 304 does not change it)",
    async () => {
      clock.advance(61_000);
      const { res, bytes } = await get(url, { "accept-encoding": "gzip, br" });
      assert.equal(res.headers.get("x-cache"), "REVALIDATED");
      assert.equal(res.headers.get("content-encoding"), "gzip");
      assert.deepEqual(decoded(res, bytes), page);
    },
  );
});

Deno.test("identity bodies are compressed for clients that accept it", async (t) => {
  const clock = wholeSecondClock();
  await using origin = plainOrigin(clock);
  await using e = await edgeFor(origin, clock);
  const url = `${e.url}/data.json`;
  const json = origin.identity("/data.json");
  await get(url);
  await e.edge.cache!.settled();
  await t.step("br for a client that takes br, gzip for one that takes only gzip", async () => {
    for (const [ae, coding] of [["gzip, deflate, br", "br"], ["gzip", "gzip"]]) {
      const { res, bytes } = await get(url, { "accept-encoding": ae });
      assert.equal(res.headers.get("x-cache"), "HIT");
      assert.equal(res.headers.get("content-encoding"), coding);
      assert.ok(bytes.byteLength < json.byteLength / 3, `${bytes.byteLength}`);
      assert.equal(Number(res.headers.get("content-length")), bytes.byteLength);
      assert.match(res.headers.get("vary") ?? "", /accept-encoding/i);
      assert.deepEqual(decoded(res, bytes), json);
    }
    const plain = await get(url);
    assert.equal(plain.res.headers.get("content-encoding"), null);
    assert.match(plain.res.headers.get("vary") ?? "", /accept-encoding/i);
    assert.doesNotMatch(plain.res.headers.get("etag") ?? "", /^W\//, "identity keeps its ETag");
    assert.deepEqual(plain.bytes, json);
    assert.equal(origin.requests(), 1, "one entry for every client");
  });
  await t.step("the weak ETag of a compressed answer validates (304)", async () => {
    const first = await get(url, { "accept-encoding": "br" });
    const etag = first.res.headers.get("etag")!;
    assert.match(etag, /^W\//);
    const cond = await get(url, { "accept-encoding": "br", "if-none-match": etag });
    assert.equal(cond.res.status, 304);
    assert.equal(cond.res.headers.get("etag"), etag);
  });
  await t.step("not below cache.compression.minBytes, never a binary type", async () => {
    await using e2 = await edgeFor(origin, clock, { compression: { minBytes: 1_000_000 } });
    await get(`${e2.url}/data.json`);
    await e2.edge.cache!.settled();
    const small = await get(`${e2.url}/data.json`, { "accept-encoding": "br" });
    assert.equal(small.res.headers.get("x-cache"), "HIT");
    assert.equal(small.res.headers.get("content-encoding"), null);
    await get(`${e.url}/image.bin`);
    await e.edge.cache!.settled();
    const image = await get(`${e.url}/image.bin`, { "accept-encoding": "br" });
    assert.equal(image.res.headers.get("x-cache"), "HIT");
    assert.equal(image.res.headers.get("content-encoding"), null);
    assert.equal(image.res.headers.get("vary"), null);
  });
  await t.step("a range request is never compressed", async () => {
    const part = await get(url, { "accept-encoding": "br", range: "bytes=0-9" });
    assert.equal(part.res.status, 206);
    assert.equal(part.res.headers.get("content-encoding"), null);
    assert.deepEqual(part.bytes, json.subarray(0, 10));
  });
  await t.step("compression off: sent as stored", async () => {
    await using e3 = await edgeFor(origin, clock, { compression: { enabled: false } });
    await get(`${e3.url}/data.json`);
    await e3.edge.cache!.settled();
    const off = await get(`${e3.url}/data.json`, { "accept-encoding": "br" });
    assert.equal(off.res.headers.get("content-encoding"), null);
    assert.deepEqual(off.bytes, json);
  });
});

Deno.test("an origin that always sends gzip is cached once and decoded for who needs it", async (t) => {
  const clock = wholeSecondClock();
  await using origin = alwaysGzipOrigin(clock);
  await using e = await edgeFor(origin, clock);
  const url = `${e.url}/page.html`;
  const page = origin.identity("/page.html");
  await t.step("stored (it never was before)", async () => {
    const { res, bytes } = await get(url, { "accept-encoding": "gzip" });
    assert.match(res.headers.get("cache-status") ?? "", /fwd=miss; fwd-status=200; stored/);
    assert.deepEqual(bytes, new Uint8Array(zlib.gzipSync(page)), "the origin's own bytes");
    await e.edge.cache!.settled();
  });
  await t.step("a client that takes gzip: the stored bytes, strong ETag kept", async () => {
    const { res, bytes } = await get(url, { "accept-encoding": "gzip, br" });
    assert.equal(res.headers.get("x-cache"), "HIT");
    assert.deepEqual(bytes, new Uint8Array(zlib.gzipSync(page)));
    assert.doesNotMatch(res.headers.get("etag") ?? "", /^W\//);
    assert.match(res.headers.get("vary") ?? "", /accept-encoding/i);
  });
  await t.step("a client without Accept-Encoding gets it decoded, with a weak ETag", async () => {
    const { res, bytes } = await get(url);
    assert.equal(res.headers.get("x-cache"), "HIT");
    assert.equal(res.headers.get("content-encoding"), null);
    assert.deepEqual(bytes, page);
    assert.equal(Number(res.headers.get("content-length")), page.byteLength);
    assert.match(res.headers.get("etag") ?? "", /^W\//);
    const part = await get(url, { range: "bytes=5-14" });
    assert.equal(part.res.status, 206);
    assert.deepEqual(part.bytes, page.subarray(5, 15));
  });
  await t.step("a large body is decoded as a stream (no Content-Length)", async () => {
    const big = origin.identity("/big.html");
    await get(`${e.url}/big.html`, { "accept-encoding": "gzip" });
    await e.edge.cache!.settled();
    const { res, bytes } = await get(`${e.url}/big.html`);
    assert.equal(res.headers.get("x-cache"), "HIT");
    assert.equal(res.headers.get("content-encoding"), null);
    assert.equal(res.headers.get("content-length"), null);
    assert.deepEqual(bytes, big);
    const head = await get(`${e.url}/big.html`, {}, "HEAD");
    assert.equal(head.res.headers.get("content-length"), null);
  });
  await t.step("no-transform: a client that cannot take gzip is sent to the origin", async () => {
    await get(`${e.url}/fixed.html`, { "accept-encoding": "gzip" });
    await e.edge.cache!.settled();
    const before = origin.requests();
    const { res } = await get(`${e.url}/fixed.html`);
    assert.equal(res.headers.get("x-cache"), "BYPASS");
    assert.match(res.headers.get("cache-status") ?? "", /detail=no-transform/);
    assert.equal(origin.requests(), before + 1);
    const taker = await get(`${e.url}/fixed.html`, { "accept-encoding": "gzip" });
    assert.equal(taker.res.headers.get("x-cache"), "HIT");
  });
  assert.equal(origin.requests(), 4, "one fill per URL, plus the no-transform pass");
});

Deno.test("proxy.acceptEncoding identity: origins send plain bodies, the edge compresses", async () => {
  const clock = wholeSecondClock();
  await using origin = nginxLikeOrigin(clock);
  await using e = await startEdge(
    makeConfig(origin.url, { experiments: [], proxy: { acceptEncoding: "identity" } }),
    { clock },
  );
  const page = origin.identity("/page.html");
  const first = await get(`${e.url}/page.html`, { "accept-encoding": "gzip, deflate, br" });
  assert.equal(first.res.headers.get("content-encoding"), "br");
  assert.deepEqual(decoded(first.res, first.bytes), page);
  assert.deepEqual([...origin.byEncoding.keys()], ["identity"]);
});

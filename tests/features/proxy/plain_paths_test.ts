import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { isCoded, PlainPaths, tellsCoding } from "../../../lib/features/proxy/plain_paths.ts";
import { rawFetch } from "../../../lib/features/proxy/raw_fetch.ts";
import { nginxLikeOrigin, plainOrigin } from "../cache/_origins.ts";
import { makeConfig, startEdge } from "../../helpers.ts";

Deno.test("PlainPaths remembers a plain answer for its time; a coded one forgets it", () => {
  const paths = new PlainPaths({ ttlMs: 1000, maxEntries: 2 });
  assert.equal(paths.isPlain("h/a", 0), false);
  paths.observe("h/a", false, 0);
  assert.equal(paths.isPlain("h/a", 999), true);
  assert.equal(paths.isPlain("h/a", 1000), false, "asked the client's way again");
  assert.equal(paths.size, 0);
  paths.observe("h/a", false, 0);
  paths.observe("h/a", true, 10);
  assert.equal(paths.isPlain("h/a", 20), false);
  paths.observe("h/a", false, 0);
  paths.observe("h/b", false, 0);
  paths.observe("h/c", false, 0); // full: cleared, then kept
  assert.equal(paths.size, 1);
  assert.equal(paths.isPlain("h/c", 1), true);
  const off = new PlainPaths({ ttlMs: 0, maxEntries: 10 });
  off.observe("h/a", false, 0);
  assert.equal(off.isPlain("h/a", 0), false);
});

Deno.test("isCoded() and tellsCoding() read what an answer says about its path", () => {
  assert.equal(isCoded(new Headers()), false);
  assert.equal(isCoded(new Headers({ "content-encoding": "identity" })), false);
  assert.equal(isCoded(new Headers({ "content-encoding": "gzip" })), true);
  assert.equal(isCoded(new Headers({ "content-encoding": "br" })), true);
  for (const status of [200, 404, 500]) assert.equal(tellsCoding(status), true);
  for (const status of [204, 304, 101]) assert.equal(tellsCoding(status), false);
});

const BROWSER = { "accept-encoding": "gzip, deflate, br, zstd" };
const client = rawFetch();

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await client(url, { headers });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

Deno.test("a client's request to a path its origin sent plain asks for identity (same bytes)", async (t) => {
  const clock = new ManualClock(Date.now());
  await using origin = plainOrigin(clock);
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }), { clock });
  const page = origin.identity("/data.json");
  const asked = () => Object.fromEntries(origin.byEncoding);

  await t.step("the first answer is observed: asked the client's way", async () => {
    const { res, bytes } = await get(`${e.url}/data.json?nostore`, BROWSER);
    assert.equal(res.headers.get("x-cache"), "MISS");
    assert.equal(res.headers.get("content-encoding"), null);
    assert.deepEqual(bytes, page);
    assert.deepEqual(asked(), { "br, gzip": 1 });
  });
  await t.step("the next ones ask for identity, and the client gets the same bytes", async () => {
    for (let i = 0; i < 2; i++) {
      const { res, bytes } = await get(`${e.url}/data.json?nostore`, BROWSER);
      assert.equal(res.headers.get("x-cache"), "BYPASS", "hit-for-pass");
      assert.equal(res.headers.get("content-encoding"), null);
      assert.deepEqual(bytes, page);
    }
    assert.deepEqual(asked(), { "br, gzip": 1, identity: 2 });
  });
  await t.step("a fill for the cache is never asked for less than the client takes", async () => {
    const { res } = await get(`${e.url}/data.json`, BROWSER);
    assert.match(res.headers.get("cache-status") ?? "", /stored/);
    assert.deepEqual(asked(), { "br, gzip": 2, identity: 2 });
  });
  await t.step("after a minute the path is asked the client's way again", async () => {
    clock.advance(60_000);
    await get(`${e.url}/data.json?nostore`, BROWSER);
    assert.deepEqual(asked(), { "br, gzip": 3, identity: 2 });
  });
});

Deno.test("a path its origin compresses keeps getting the client's codings, and gzip passes", async () => {
  const clock = new ManualClock(Date.now());
  await using origin = nginxLikeOrigin(clock);
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }), { clock });
  for (let i = 0; i < 3; i++) {
    const { res, bytes } = await get(`${e.url}/page.html?nostore`, BROWSER);
    assert.equal(res.headers.get("x-cache"), i === 0 ? "MISS" : "BYPASS");
    assert.equal(res.headers.get("content-encoding"), "gzip");
    assert.ok(bytes.byteLength < origin.identity("/page.html").byteLength / 2);
  }
  await get(`${e.url}/page.html?nostore`);
  assert.deepEqual(Object.fromEntries(origin.byEncoding), { "br, gzip": 3, identity: 1 });
});

import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { PassMarks } from "../../../lib/features/cache/pass.ts";
import { makeConfig, startEdge } from "../../helpers.ts";
import { wrapKv } from "./_fixtures.ts";
import { cacheSetup } from "./_setup.ts";

Deno.test("PassMarks keeps marks for their time, bounded, newest kept", () => {
  const marks = new PassMarks({ ttlMs: 1000, maxEntries: 3 });
  marks.mark("a", 0);
  assert.equal(marks.has("a", 999), true);
  assert.equal(marks.has("a", 1000), false);
  assert.equal(marks.size, 0, "an expired mark is dropped when looked at");
  for (const k of ["a", "b", "c"]) marks.mark(k, 0);
  marks.mark("a", 600); // past half its time: renewed, now the newest
  marks.mark("d", 600);
  assert.equal(marks.size, 3);
  assert.equal(marks.has("b", 700), false, "the oldest mark made room");
  assert.equal(marks.has("a", 700) && marks.has("c", 700) && marks.has("d", 700), true);
  marks.mark("d", 700); // more than half its time left: left as it is
  assert.equal(marks.has("d", 1599), true);
  assert.equal(marks.has("d", 1600), false);
  marks.forget("a");
  assert.equal(marks.has("a", 700), false);
  const off = new PassMarks({ ttlMs: 0, maxEntries: 3 });
  off.mark("a", 0);
  assert.equal(off.has("a", 0), false);
  assert.ok(PassMarks.marks("no-store") && PassMarks.marks("private"));
  assert.ok(PassMarks.marks("set-cookie") && !PassMarks.marks("authorization"));
});

Deno.test("hit-for-pass: an uncacheable URL goes straight to the origin for a while", async (t) => {
  await using kvReal = await Deno.openKv(":memory:");
  const { kv, calls } = wrapKv(kvReal);
  await using s = await cacheSetup({}, { kv });
  const count = (p: string) => s.origin.count(p);
  const kvCalls = () => Object.values(calls).reduce((a, b) => a + b, 0);
  for (
    const [name, path] of [
      ["no-store", "/cacheable/nostore?cc=no-store"],
      ["private", "/cacheable/private?cc=private"],
    ]
  ) {
    await t.step(`${name}: the second request passes without KV or leases`, async () => {
      const first = await s.get(path);
      assert.match(first.res.headers.get("cache-status") ?? "", new RegExp(`detail=${name}`));
      await s.settled();
      const before = kvCalls();
      const second = await s.get(path);
      assert.equal(second.res.status, 200);
      assert.equal(second.res.headers.get("x-cache"), "BYPASS");
      assert.equal(
        second.res.headers.get("cache-status"),
        "Outpost; fwd=bypass; fwd-status=200; detail=hit-for-pass",
      );
      assert.equal(kvCalls(), before, "no KV call on a pass");
      assert.equal(count(path.split("?")[0]), 2);
    });
  }
  await t.step("only-if-cached on a passed URL is a 504", async () => {
    const { res } = await s.get("/cacheable/nostore?cc=no-store", {
      headers: { "cache-control": "only-if-cached" },
    });
    assert.equal(res.status, 504);
  });
  await t.step("after cache.hitForPassSeconds the cache tries again", async () => {
    s.clock.advance(121_000);
    const before = kvCalls();
    const again = await s.get("/cacheable/nostore?cc=no-store");
    assert.match(again.res.headers.get("cache-status") ?? "", /fwd=miss.*detail=no-store/);
    assert.ok(kvCalls() > before, "looked up again");
  });
  assert.equal(
    s.e.edge.metrics.counter("outpost_cache_hit_for_pass_total", "").get(),
    2,
  );
});

Deno.test("hit-for-pass ends as soon as the origin answers something storable", async () => {
  let cacheControl = "no-store";
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("page", { headers: { "cache-control": cacheControl } }),
  );
  await using _ = { [Symbol.asyncDispose]: () => server.shutdown() };
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  await using e = await startEdge(
    makeConfig(`http://127.0.0.1:${server.addr.port}`, { experiments: [] }),
    { clock },
  );
  const status = async () => {
    const res = await fetch(`${e.url}/p`);
    await res.body?.cancel();
    await e.edge.cache!.settled();
    return res.headers.get("cache-status") ?? "";
  };
  assert.match(await status(), /detail=no-store/);
  assert.match(await status(), /detail=hit-for-pass/);
  cacheControl = "max-age=60";
  assert.match(await status(), /detail=hit-for-pass/, "this one still passes, and lifts the mark");
  assert.match(await status(), /fwd=miss; fwd-status=200; stored/);
  assert.match(await status(), /Outpost; hit/);
});

Deno.test("hit-for-pass is off with cache.hitForPassSeconds = 0", async () => {
  await using s = await cacheSetup({ cache: { hitForPassSeconds: 0 } });
  await s.get("/cacheable/off?cc=no-store");
  await s.settled();
  const second = await s.get("/cacheable/off?cc=no-store");
  assert.match(second.res.headers.get("cache-status") ?? "", /fwd=miss.*detail=no-store/);
});

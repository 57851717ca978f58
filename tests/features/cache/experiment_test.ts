import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import type { EdgeConfigInput } from "../../../lib/core/config.ts";
import { startOrigin } from "../../helpers.ts";
import { cacheSetup } from "./_setup.ts";

const TOKEN = "s3cret-admin-token";

/** One 50/50 experiment on `/cacheable/ab*`, told to the origin in `X-Home-Variant`. */
const EXPERIMENT: Partial<EdgeConfigInput> = {
  experiments: [{
    name: "home",
    paths: ["/cacheable/ab*"],
    cookie: "home",
    header: "X-Home-Variant",
    variants: [{ name: "A", weight: 1 }, { name: "B", weight: 1 }],
  }],
  cache: { denoCdnCacheControl: "derive" },
};

/** The origin echoes the variant header in the body and sends no Vary. */
const PAGE = "/cacheable/ab?echo=x-home-variant";

function echoed(text: string): unknown {
  return JSON.parse(text).echoed;
}

Deno.test("An A/B experiment's pages are cached per variant", async (t) => {
  await using s = await cacheSetup(EXPERIMENT, { adminToken: TOKEN });
  const as = (variant: string, headers: Record<string, string> = {}) =>
    s.get(PAGE, { headers: { cookie: `home=${variant}`, ...headers } });

  await t.step("each variant is filled once, then hit by its visitors", async () => {
    const a1 = await as("A");
    assert.equal(a1.res.headers.get("x-cache"), "MISS");
    assert.equal(echoed(a1.text), "A");
    await s.settled();
    // The client cannot pick another variant's entry by sending the header itself.
    const b1 = await as("B", { "x-home-variant": "A" });
    assert.equal(b1.res.headers.get("x-cache"), "MISS");
    assert.equal(echoed(b1.text), "B");
    await s.settled();
    for (const variant of ["A", "B", "A", "B"]) {
      const hit = await as(variant, { "x-home-variant": variant === "A" ? "B" : "A" });
      assert.equal(hit.res.headers.get("x-cache"), "HIT", variant);
      assert.equal(echoed(hit.text), variant);
      assert.equal(hit.res.headers.get("set-cookie"), null, "sticky visitors get no new cookie");
      assert.equal(hit.res.headers.get("deno-cdn-cache-control"), null, "not for Deno's CDN");
      assert.equal(hit.res.headers.get("vary"), null, "the origin's Vary is passed as it was");
    }
    assert.equal(s.origin.count("/cacheable/ab"), 2);
  });

  await t.step(
    "a new visitor is assigned, told by cookie, and served its variant's entry",
    async () => {
      const fresh = await s.get(PAGE, { headers: { "x-forwarded-for": "203.0.113.9" } });
      const cookie = fresh.res.headers.get("set-cookie") ?? "";
      const assigned = /^home=([AB]);/.exec(cookie)?.[1];
      assert.ok(assigned, cookie);
      assert.equal(fresh.res.headers.get("x-cache"), "HIT");
      assert.equal(echoed(fresh.text), assigned);
      assert.equal(s.origin.count("/cacheable/ab"), 2);
    },
  );

  await t.step("variants come back from KV when memory is gone", async () => {
    s.e.edge.cache!.memory.clear();
    for (const variant of ["B", "A"]) {
      const res = await as(variant);
      assert.equal(res.res.headers.get("x-cache"), "HIT", variant);
      assert.equal(echoed(res.text), variant);
    }
    assert.equal(s.origin.count("/cacheable/ab"), 2);
  });

  await t.step("purging the URL drops every variant", async () => {
    const res = await fetch(`${s.e.url}/_edge/purge`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ urls: [PAGE] }),
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    for (const variant of ["A", "B"]) {
      const after = await as(variant);
      assert.equal(after.res.headers.get("x-cache"), "MISS", variant);
      assert.equal(echoed(after.text), variant);
    }
    assert.equal(s.origin.count("/cacheable/ab"), 4);
  });

  await t.step(
    "stale variants revalidate in the background with their own validators",
    async () => {
      await s.settled();
      s.clock.advance(70_000); // max-age 60 s, stale-while-revalidate 30 s
      const stale = await as("B");
      assert.equal(stale.res.headers.get("x-cache"), "STALE");
      assert.equal(echoed(stale.text), "B");
      await s.settled();
      const again = await as("B");
      assert.equal(again.res.headers.get("x-cache"), "HIT");
      assert.equal(echoed(again.text), "B");
      const a = await as("A");
      assert.equal(a.res.headers.get("x-cache"), "STALE", "A's entry is its own");
      assert.equal(echoed(a.text), "A");
      await s.settled();
    },
  );
});

Deno.test("A page stored before its experiment began is not served under it", async () => {
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  await using origin = startOrigin("demo", clock);
  await using kv = await Deno.openKv(":memory:");
  // Both nodes key by path alone (each listens on its own port).
  const cache = { ignoreHost: true, denoCdnCacheControl: "derive" } as const;
  await using before = await cacheSetup({ cache }, { kv, clock, origin });
  const plain = await before.get(PAGE);
  assert.equal(echoed(plain.text), null);
  await before.settled();
  assert.equal((await before.get(PAGE)).res.headers.get("x-cache"), "HIT");

  await using during = await cacheSetup({ ...EXPERIMENT, cache }, { kv, clock, origin });
  const a = await during.get(PAGE, { headers: { cookie: "home=A" } });
  assert.equal(a.res.headers.get("x-cache"), "MISS");
  assert.equal(echoed(a.text), "A");
  await during.settled();
  const again = await during.get(PAGE, { headers: { cookie: "home=A" } });
  assert.equal(again.res.headers.get("x-cache"), "HIT");
  assert.equal(echoed(again.text), "A");
  assert.equal(origin.count("/cacheable/ab"), 2);
});

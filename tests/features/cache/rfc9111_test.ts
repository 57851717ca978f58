/**
 * RFC 9111 shared-cache requirements end to end (docs/cache.md maps each MUST/SHOULD to a step).
 */
import assert from "node:assert/strict";
import { cacheSetup } from "./_setup.ts";

Deno.test("RFC 9111 §5.2.1: request directives are honoured", async (t) => {
  await using s = await cacheSetup();
  const path = "/cacheable/req?max_age=60&swr=0&sie=0";
  const count = () => s.origin.count("/cacheable/req");
  await t.step("only-if-cached without a stored response is 504", async () => {
    const { res, text } = await s.get(path, { headers: { "cache-control": "only-if-cached" } });
    assert.equal(res.status, 504);
    assert.equal(JSON.parse(text).code, "not_cached");
    assert.equal(count(), 0);
  });
  await t.step("no-store request: forwarded, nothing stored", async () => {
    const { res } = await s.get(path, { headers: { "cache-control": "no-store" } });
    assert.equal(res.headers.get("x-cache"), "BYPASS");
    const again = await s.get(path, { headers: { "cache-control": "only-if-cached" } });
    assert.equal(again.res.status, 504);
  });
  await s.get(path);
  await s.settled();
  s.clock.advance(10_000);
  await t.step("only-if-cached with a fresh response is a hit", async () => {
    const { res } = await s.get(path, { headers: { "cache-control": "only-if-cached" } });
    assert.equal(res.headers.get("x-cache"), "HIT");
  });
  await t.step("no-cache revalidates with the origin (304 keeps the entry)", async () => {
    const before = count();
    const { res } = await s.get(path, { headers: { "cache-control": "no-cache" } });
    assert.equal(res.headers.get("x-cache"), "REVALIDATED");
    assert.match(res.headers.get("cache-status") ?? "", /^Outpost; fwd=request; fwd-status=304/);
    assert.equal(count(), before + 1);
  });
  await t.step("Pragma: no-cache without Cache-Control is no-cache", async () => {
    const before = count();
    const { res } = await s.get(path, { headers: { pragma: "no-cache" } });
    assert.equal(res.headers.get("x-cache"), "REVALIDATED");
    assert.equal(count(), before + 1);
  });
  await t.step("max-age lower than the age revalidates, higher is a hit", async () => {
    await s.settled();
    s.clock.advance(10_000);
    const before = count();
    const hit = await s.get(path, { headers: { "cache-control": "max-age=30" } });
    assert.equal(hit.res.headers.get("x-cache"), "HIT");
    const miss = await s.get(path, { headers: { "cache-control": "max-age=5" } });
    assert.equal(miss.res.headers.get("x-cache"), "REVALIDATED");
    assert.equal(count(), before + 1);
  });
  await t.step("min-fresh beyond the remaining lifetime revalidates", async () => {
    await s.settled();
    s.clock.advance(40_000);
    const before = count();
    const ok = await s.get(path, { headers: { "cache-control": "min-fresh=10" } });
    assert.equal(ok.res.headers.get("x-cache"), "HIT");
    const { res } = await s.get(path, { headers: { "cache-control": "min-fresh=30" } });
    assert.equal(res.headers.get("x-cache"), "REVALIDATED");
    assert.equal(count(), before + 1);
  });
  await t.step("max-stale accepts a stale response (and only within its bound)", async () => {
    await s.settled();
    s.clock.advance(70_000); // 10 s stale
    const before = count();
    const stale = await s.get(path, { headers: { "cache-control": "max-stale=20" } });
    assert.equal(stale.res.headers.get("x-cache"), "STALE");
    assert.match(stale.res.headers.get("cache-status") ?? "", /detail=max-stale/);
    await s.settled(); // the stale answer triggered a background refresh
    s.clock.advance(75_000);
    const tooStale = await s.get(path, {
      headers: { "cache-control": "max-stale=5, only-if-cached" },
    });
    assert.equal(tooStale.res.status, 504);
    assert.equal(count(), before + 1);
  });
});

Deno.test("RFC 9111 §4.2.4: must-revalidate responses are never served stale", async () => {
  await using s = await cacheSetup({
    proxy: { maxAttempts: 1, breaker: { failureThreshold: 1000 } },
  });
  const path = "/cacheable/strict?max_age=5&swr=60&sie=60&cc=must-revalidate";
  await s.get(path);
  await s.settled();
  s.clock.advance(10_000);
  const max = await s.get(path, { headers: { "cache-control": "max-stale" } });
  assert.equal(max.res.headers.get("x-cache"), "REVALIDATED");
  s.origin.demo.setDown(true);
  s.clock.advance(10_000);
  const { res } = await s.get(path);
  assert.equal(res.status, 503, "the origin's error, not the stale copy");
  s.origin.demo.setDown(false);
});

Deno.test("RFC 9111 §3: no-store, private and no-cache responses", async (t) => {
  await using s = await cacheSetup();
  // The second request of each passes (hit-for-pass): it too reaches the origin.
  await t.step("no-store is never stored", async () => {
    for (let i = 0; i < 2; i++) {
      const { res } = await s.get("/cacheable/ns?cc=no-store");
      assert.equal(res.headers.get("x-cache"), i === 0 ? "MISS" : "BYPASS");
      assert.match(res.headers.get("cache-status") ?? "", /detail=(no-store|hit-for-pass)/);
      await s.settled();
    }
    assert.equal(s.origin.count("/cacheable/ns"), 2);
  });
  await t.step("private responses are not stored by the shared cache", async () => {
    for (let i = 0; i < 2; i++) {
      const { res } = await s.get("/users/7");
      assert.equal(res.headers.get("x-cache"), i === 0 ? "MISS" : "BYPASS");
      await s.settled();
    }
    assert.equal(s.origin.count("/users/7"), 2);
  });
  await t.step("no-cache is stored but revalidated on every use", async () => {
    for (let i = 0; i < 3; i++) {
      const { res } = await s.get("/cacheable/nc?cc=no-cache");
      assert.equal(res.headers.get("x-cache"), i === 0 ? "MISS" : "REVALIDATED");
      await s.settled();
    }
    assert.equal(s.origin.count("/cacheable/nc"), 3);
  });
});

Deno.test("RFC 9111 §3.5 and cookies: Authorization and Set-Cookie", async (t) => {
  await using s = await cacheSetup();
  await t.step("a public response with Set-Cookie is stored without the cookie", async () => {
    const first = await s.get("/cacheable/cookie?cookie=1");
    assert.equal(
      first.res.headers.get("set-cookie"),
      "seen=1; Path=/",
      "the filling client gets it",
    );
    await s.settled();
    const hit = await s.get("/cacheable/cookie?cookie=1");
    assert.equal(hit.res.headers.get("x-cache"), "HIT");
    assert.equal(hit.res.headers.get("set-cookie"), null);
  });
  await t.step("a request with Authorization may use a public response", async () => {
    const { res } = await s.get("/cacheable/cookie?cookie=1", {
      headers: { authorization: "Bearer x" },
    });
    assert.equal(res.headers.get("x-cache"), "HIT");
  });
});

Deno.test("RFC 9111 §3.5: a response stored without public is not used for Authorization", async () => {
  await using s = await cacheSetup({
    cache: { routes: [{ paths: ["/status/*"], ttlSeconds: 60 }] },
  });
  const first = await s.get("/status/200");
  assert.match(first.res.headers.get("cache-status") ?? "", /stored; ttl=60$/);
  await s.settled();
  const anonymous = await s.get("/status/200");
  assert.equal(anonymous.res.headers.get("x-cache"), "HIT");
  const authorized = await s.get("/status/200", { headers: { authorization: "Bearer u1" } });
  assert.equal(authorized.res.headers.get("x-cache"), "MISS");
  assert.match(authorized.res.headers.get("cache-status") ?? "", /detail=authorization$/);
  assert.equal(s.origin.count("/status/200"), 2);
});

Deno.test("RFC 9111 §4.4: unsafe requests invalidate their URL and Location", async () => {
  await using s = await cacheSetup();
  await s.get("/cacheable/doc");
  await s.get("/cacheable/list");
  await s.settled();
  const post = await s.get("/cacheable/doc?location=/cacheable/list", { method: "POST" });
  assert.equal(post.res.status, 200);
  assert.equal(post.res.headers.get("x-cache"), "BYPASS");
  assert.equal(post.res.headers.get("cache-status"), "Outpost; fwd=method");
  // The POST went to /cacheable/doc?location=…, a different key; /cacheable/list is invalidated.
  const list = await s.get("/cacheable/list");
  assert.equal(list.res.headers.get("x-cache"), "MISS");
  await s.get("/cacheable/doc", { method: "DELETE" });
  const doc = await s.get("/cacheable/doc");
  assert.equal(doc.res.headers.get("x-cache"), "MISS");
  assert.equal(JSON.parse(doc.text).version, 3);
  await s.settled();
  // A failed unsafe request invalidates nothing.
  const bad = await s.get("/cacheable/doc?status=409&location=/cacheable/doc", { method: "PUT" });
  assert.equal(bad.res.status, 409);
  const still = await s.get("/cacheable/doc");
  assert.equal(still.res.headers.get("x-cache"), "HIT");
});

Deno.test("RFC 9111 §4.4: an unknown method is forwarded and invalidates like POST", async () => {
  await using s = await cacheSetup();
  await s.get("/cacheable/ext");
  await s.settled();
  assert.equal((await s.get("/cacheable/ext")).res.headers.get("x-cache"), "HIT");
  const search = await s.get("/cacheable/ext", { method: "M-SEARCH" });
  assert.equal(search.res.status, 200);
  assert.equal(JSON.parse(search.text).method, "M-SEARCH");
  assert.equal(search.res.headers.get("cache-status"), "Outpost; fwd=method");
  const after = await s.get("/cacheable/ext");
  assert.equal(after.res.headers.get("x-cache"), "MISS");
  assert.equal(JSON.parse(after.text).version, 2);
  await s.settled();
  // A method registered as safe changes nothing (the origin answers 404; it is not invalidated).
  const propfind = await s.get("/cacheable/ext", { method: "PROPFIND" });
  assert.equal(propfind.res.headers.get("x-cache"), "BYPASS");
  assert.equal((await s.get("/cacheable/ext")).res.headers.get("x-cache"), "HIT");
});

Deno.test("EdgeCache applies per-route config and emits Deno-CDN-Cache-Control", async (t) => {
  await using s = await cacheSetup({
    cache: {
      denoCdnCacheControl: "derive",
      routes: [
        { paths: ["/cacheable/nocache/*"], bypass: true },
        {
          paths: ["/cacheable/short/*"],
          ttlSeconds: 2,
          ignoreQueryParams: ["utm_*"],
          sortQuery: true,
        },
        { paths: ["/cacheable/fixed/*"], denoCdnCacheControl: "public, max-age=5" },
      ],
    },
  });
  await t.step("bypass route", async () => {
    const { res } = await s.get("/cacheable/nocache/x");
    assert.equal(res.headers.get("x-cache"), "BYPASS");
    assert.equal(res.headers.get("cache-status"), "Outpost; fwd=bypass; detail=route");
  });
  await t.step("ttl override and key options", async () => {
    const first = await s.get("/cacheable/short/x?b=2&a=1&utm_source=mail");
    assert.match(first.res.headers.get("cache-status") ?? "", /ttl=2$/);
    await s.settled();
    const same = await s.get("/cacheable/short/x?a=1&b=2");
    assert.equal(same.res.headers.get("x-cache"), "HIT");
    s.clock.advance(3000);
    const later = await s.get("/cacheable/short/x?a=1&b=2");
    assert.notEqual(later.res.headers.get("x-cache"), "HIT");
  });
  await t.step("derived and fixed Deno-CDN-Cache-Control", async () => {
    await s.get("/cacheable/cdn?max_age=60&swr=30&sie=300");
    await s.settled();
    s.clock.advance(10_000);
    const { res } = await s.get("/cacheable/cdn?max_age=60&swr=30&sie=300");
    assert.equal(
      res.headers.get("deno-cdn-cache-control"),
      "public, max-age=50, stale-while-revalidate=30, stale-if-error=300",
    );
    const fixed = await s.get("/cacheable/fixed/x");
    assert.equal(fixed.res.headers.get("deno-cdn-cache-control"), "public, max-age=5");
    const notStored = await s.get("/cacheable/ns2?cc=no-store");
    assert.equal(notStored.res.headers.get("deno-cdn-cache-control"), null);
  });
  await t.step("Outpost-Cache-Control is for the edge only", async () => {
    const path = "/cacheable/targeted?max_age=0&swr=0&sie=0&edge_cc=max-age%3D30";
    const { res } = await s.get(path);
    assert.equal(res.headers.get("outpost-cache-control"), null);
    assert.equal(
      res.headers.get("cache-control"),
      "public, max-age=0, stale-while-revalidate=0, stale-if-error=0",
    );
    assert.match(res.headers.get("cache-status") ?? "", /stored; ttl=30$/);
    await s.settled();
    const hit = await s.get(path);
    assert.equal(hit.res.headers.get("x-cache"), "HIT");
    assert.equal(hit.res.headers.get("outpost-cache-control"), null);
  });
});

Deno.test("EdgeCache never answers 5xx to odd request targets and directives", async () => {
  const fc = (await import("fast-check")).default;
  await using s = await cacheSetup();
  const printable = fc.string({ unit: fc.constantFrom(...'abc=,;" -_/*0123456789.%?&'.split("")) });
  await fc.assert(
    fc.asyncProperty(
      fc.string({ maxLength: 40 }),
      fc.option(printable, { nil: undefined }),
      fc.option(printable, { nil: undefined }),
      fc.option(printable, { nil: undefined }),
      fc.constantFrom("GET", "HEAD"),
      async (tail, cc, inm, range, method) => {
        const headers: Record<string, string> = {};
        if (cc !== undefined) headers["cache-control"] = cc;
        if (inm !== undefined) headers["if-none-match"] = inm;
        if (range !== undefined) headers["range"] = range;
        const path = `/cacheable/${encodeURIComponent(tail)}?max_age=5`;
        const res = await fetch(`${s.e.url}${path}`, { method, headers });
        await res.body?.cancel();
        return res.status < 500 || (res.status === 504 && /only-if-cached/.test(cc ?? ""));
      },
    ),
    { numRuns: 150 },
  );
});

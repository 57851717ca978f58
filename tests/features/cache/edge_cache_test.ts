import assert from "node:assert/strict";
import { cacheSetup } from "./_setup.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import { startOrigin } from "../../helpers.ts";

Deno.test("EdgeCache serves a miss, then hits from memory with Age and Cache-Status", async (t) => {
  await using s = await cacheSetup();
  await t.step("miss goes to the origin and is stored", async () => {
    const { res, text } = await s.get("/cacheable/a");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-cache"), "MISS");
    assert.equal(
      res.headers.get("cache-status"),
      "Outpost; fwd=miss; fwd-status=200; stored; ttl=60",
    );
    assert.equal(res.headers.get("age"), "0");
    assert.equal(JSON.parse(text).path, "/cacheable/a");
    assert.equal(s.origin.count("/cacheable/a"), 1);
  });
  await s.settled();
  await t.step("hit keeps the origin's fields and adds Age", async () => {
    s.clock.advance(12_000);
    const { res, text } = await s.get("/cacheable/a");
    assert.equal(res.headers.get("x-cache"), "HIT");
    assert.equal(res.headers.get("cache-status"), "Outpost; hit; ttl=48");
    assert.equal(res.headers.get("age"), "12");
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.match(res.headers.get("etag") ?? "", /^"[0-9a-f]{16}"$/);
    assert.equal(res.headers.get("x-served-by"), "us-east");
    assert.equal(res.headers.get("content-length"), String(new TextEncoder().encode(text).length));
    assert.equal(JSON.parse(text).path, "/cacheable/a");
    assert.equal(s.origin.count("/cacheable/a"), 1);
  });
  await t.step("HEAD is answered from the stored GET", async () => {
    const { res, text } = await s.get("/cacheable/a", { method: "HEAD" });
    assert.equal(res.headers.get("x-cache"), "HIT");
    assert.equal(text, "");
    const full = await s.get("/cacheable/a");
    assert.equal(res.headers.get("content-length"), String(full.text.length));
    assert.equal(s.origin.count("/cacheable/a"), 1);
  });
  await t.step("a HEAD miss fills the cache with a GET", async () => {
    const { res, text } = await s.get("/cacheable/head-first", { method: "HEAD" });
    assert.equal(res.headers.get("x-cache"), "MISS");
    assert.equal(text, "");
    await s.settled();
    const again = await s.get("/cacheable/head-first");
    assert.equal(again.res.headers.get("x-cache"), "HIT");
    assert.equal(JSON.parse(again.text).path, "/cacheable/head-first");
  });
  await t.step("GET /_edge/cache reports the memory tier", async () => {
    const { res, text } = await s.get("/_edge/cache");
    assert.equal(res.status, 200);
    const figures = JSON.parse(text);
    assert.equal(figures.memory.items, 2);
    assert.ok(figures.memory.bytes > 0 && figures.memory.bytes <= figures.memory.budgetBytes);
    assert.equal(figures.memory.budgetBytes, 64 * 1024 * 1024);
    assert.equal(figures.inFlight, 0);
  });
  await t.step("/api/* and /_edge/* never go through the cache", async () => {
    const { res } = await s.get("/api/echo");
    assert.equal(res.headers.get("x-cache"), null);
    const health = await s.get("/_edge/health");
    assert.equal(health.res.headers.get("x-cache"), null);
  });
});

Deno.test("EdgeCache serves stale while revalidating with exactly one background fetch", async () => {
  // The origin holds the revalidation until every stale answer is out (`delay_ms` waits on it).
  let open = Promise.resolve();
  let release = () => {};
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  await using origin = startOrigin("demo", clock, () => open);
  await using s = await cacheSetup({}, { clock, origin });
  const path = "/cacheable/swr?max_age=10&swr=60&delay_ms=1";
  await s.get(path);
  await s.settled();
  s.clock.advance(15_000);
  open = new Promise((resolve) => (release = resolve));
  const stale = await Promise.all(Array.from({ length: 20 }, () => s.get(path)));
  release();
  for (const { res } of stale) {
    assert.equal(res.headers.get("x-cache"), "STALE");
    assert.equal(
      res.headers.get("cache-status"),
      "Outpost; hit; ttl=-5; detail=stale-while-revalidate",
    );
    assert.equal(res.headers.get("age"), "15");
  }
  await s.settled();
  assert.equal(s.origin.count("/cacheable/swr"), 2, "one fill and one background revalidation");
  const after = await s.get(path);
  assert.equal(after.res.headers.get("x-cache"), "HIT");
  assert.equal(after.res.headers.get("age"), "0");
  assert.equal(s.origin.count("/cacheable/swr"), 2);
});

Deno.test("EdgeCache revalidates with validators and keeps the body on 304", async (t) => {
  await using s = await cacheSetup();
  const path = "/cacheable/cond?max_age=5&swr=0";
  const first = await s.get(path);
  await s.settled();
  await t.step("304 refreshes the stored response", async () => {
    s.clock.advance(8000);
    const { res, text } = await s.get(path);
    assert.equal(res.headers.get("x-cache"), "REVALIDATED");
    assert.equal(
      res.headers.get("cache-status"),
      "Outpost; fwd=stale; fwd-status=304; stored; ttl=5",
    );
    assert.equal(text, first.text);
    assert.equal(s.origin.count("/cacheable/cond"), 2);
    await s.settled();
    const hit = await s.get(path);
    assert.equal(hit.res.headers.get("x-cache"), "HIT");
  });
  await t.step("a changed page replaces the entry", async () => {
    await fetch(`${s.origin.url}/__origin/touch`, {
      method: "POST",
      body: JSON.stringify({ path: "/cacheable/cond" }),
    }).then((r) => r.body?.cancel());
    s.clock.advance(8000);
    const { res, text } = await s.get(path);
    assert.equal(res.headers.get("x-cache"), "EXPIRED");
    assert.equal(JSON.parse(text).version, 2);
  });
  await t.step("a client validator that matches gets 304 from the cache", async () => {
    await s.settled();
    const { res } = await s.get(path);
    const etag = res.headers.get("etag")!;
    const conditional = await s.get(path, { headers: { "if-none-match": etag } });
    assert.equal(conditional.res.status, 304);
    assert.equal(conditional.res.headers.get("x-cache"), "HIT");
    assert.equal(conditional.res.headers.get("etag"), etag);
    const other = await s.get(path, { headers: { "if-none-match": '"nope"' } });
    assert.equal(other.res.status, 200);
  });
});

Deno.test("EdgeCache serves stale if the origin errors, and 502 without a copy", async (t) => {
  await using s = await cacheSetup({
    proxy: { maxAttempts: 1, breaker: { failureThreshold: 1000 } },
  });
  const path = "/cacheable/sie?max_age=5&swr=0&sie=60";
  const first = await s.get(path);
  await s.settled();
  s.origin.demo.setDown(true);
  await t.step("origin answers 503: stale served, Cache-Status says so", async () => {
    s.clock.advance(10_000);
    const { res, text } = await s.get(path);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-cache"), "STALE");
    assert.equal(
      res.headers.get("cache-status"),
      "Outpost; fwd=stale; fwd-status=503; ttl=-5; detail=stale-if-error",
    );
    assert.equal(text, first.text);
  });
  await t.step("beyond the stale-if-error window the error passes through", async () => {
    s.clock.advance(60_000);
    const { res } = await s.get(path);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-cache"), "MISS");
  });
  s.origin.demo.setDown(false);
});

Deno.test("EdgeCache serves stale when the origin is unreachable", async () => {
  const { ManualClock } = await import("../../../lib/core/clock.ts");
  const { startOrigin, makeConfig, startEdge } = await import("../../helpers.ts");
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  const origin = startOrigin("demo", clock);
  await using e = await startEdge(
    makeConfig(origin.url, { experiments: [], proxy: { maxAttempts: 1, timeoutMs: 2000 } }),
    { clock },
  );
  const path = "/cacheable/gone?max_age=5&swr=0&sie=60";
  const first = await fetch(`${e.url}${path}`).then((r) => r.text());
  await e.edge.cache!.settled();
  await origin[Symbol.asyncDispose]();
  clock.advance(10_000);
  const res = await fetch(`${e.url}${path}`);
  assert.equal(await res.text(), first);
  assert.equal(res.headers.get("x-cache"), "STALE");
  assert.match(
    res.headers.get("cache-status") ?? "",
    /^Outpost; fwd=stale; fwd-status=502; ttl=-5; detail=stale-if-error$/,
  );
  const cold = await fetch(`${e.url}/cacheable/never-seen`);
  assert.equal(cold.status, 502);
  assert.equal(cold.headers.get("content-type"), "application/problem+json");
  assert.equal((await cold.json()).code, "origin_unreachable");
});

Deno.test("EdgeCache collapses 200 concurrent misses into one origin request", async () => {
  await using s = await cacheSetup();
  const path = "/cacheable/cold?delay_ms=200";
  const all = await Promise.all(Array.from({ length: 200 }, () => s.get(path)));
  assert.equal(s.origin.count("/cacheable/cold"), 1);
  const bodies = new Set(all.map((r) => r.text));
  assert.equal(bodies.size, 1);
  const statuses = all.map((r) => r.res.headers.get("cache-status"));
  assert.equal(statuses.filter((v) => v?.endsWith("stored; ttl=60")).length, 1, "one leader");
  assert.ok(
    statuses.every((v) =>
      v === "Outpost; fwd=miss; fwd-status=200; stored; ttl=60" ||
      v === "Outpost; fwd=miss; fwd-status=200; stored; collapsed; ttl=60" ||
      v?.startsWith("Outpost; hit")
    ),
    statuses.join(" | "),
  );
  assert.ok(all.every((r) => r.res.status === 200));
});

Deno.test("EdgeCache keeps Vary variants apart", async () => {
  await using s = await cacheSetup();
  const path = "/cacheable/lang?vary=accept-language";
  const en = await s.get(path, { headers: { "accept-language": "en" } });
  const fr = await s.get(path, { headers: { "accept-language": "fr" } });
  assert.equal(JSON.parse(en.text).varied, "en");
  assert.equal(JSON.parse(fr.text).varied, "fr");
  assert.equal(fr.res.headers.get("x-cache"), "MISS");
  await s.settled();
  const en2 = await s.get(path, { headers: { "accept-language": "en" } });
  const fr2 = await s.get(path, { headers: { "accept-language": "  fr " } });
  assert.equal(en2.res.headers.get("x-cache"), "HIT");
  assert.equal(JSON.parse(en2.text).varied, "en");
  assert.equal(fr2.res.headers.get("x-cache"), "HIT");
  assert.equal(JSON.parse(fr2.text).varied, "fr");
  assert.equal(en2.res.headers.get("vary"), "accept-language");
  const none = await s.get(path);
  assert.equal(none.res.headers.get("x-cache"), "MISS");
  assert.equal(JSON.parse(none.text).varied, "*", "fetch's default Accept-Language");
  assert.equal(s.origin.count("/cacheable/lang"), 3);
});

Deno.test("EdgeCache keeps a variant apart when concurrent first requests differ", async () => {
  await using s = await cacheSetup();
  const path = "/cacheable/lang2?vary=accept-language&delay_ms=100";
  const [en, fr] = await Promise.all([
    s.get(path, { headers: { "accept-language": "en" } }),
    s.get(path, { headers: { "accept-language": "fr" } }),
  ]);
  assert.equal(JSON.parse(en.text).varied, "en");
  assert.equal(JSON.parse(fr.text).varied, "fr");
});

Deno.test("EdgeCache collapses concurrent revalidations into one conditional request", async () => {
  await using s = await cacheSetup();
  const path = "/cacheable/reval?max_age=5&swr=0&delay_ms=100";
  await s.get(path);
  await s.settled();
  s.clock.advance(10_000);
  const all = await Promise.all(Array.from({ length: 50 }, () => s.get(path)));
  assert.equal(s.origin.count("/cacheable/reval"), 2);
  assert.ok(all.every((r) => r.res.headers.get("x-cache") === "REVALIDATED"));
  const collapsed = all.filter((r) => /; collapsed/.test(r.res.headers.get("cache-status") ?? ""));
  assert.equal(collapsed.length, 49);
});

Deno.test("EdgeCache serves Vary variants from KV after memory is gone", async () => {
  await using s = await cacheSetup();
  const path = "/cacheable/lang-kv?vary=accept-language";
  await s.get(path, { headers: { "accept-language": "en" } });
  await s.get(path, { headers: { "accept-language": "de" } });
  await s.settled();
  s.e.edge.cache!.memory.clear();
  const de = await s.get(path, { headers: { "accept-language": "de" } });
  assert.equal(de.res.headers.get("x-cache"), "HIT");
  assert.equal(JSON.parse(de.text).varied, "de");
  const en = await s.get(path, { headers: { "accept-language": "en" } });
  assert.equal(JSON.parse(en.text).varied, "en");
  assert.equal(s.origin.count("/cacheable/lang-kv"), 2);
});

Deno.test("EdgeCache does not store a fill that raced a purge", async () => {
  // The origin holds the fill (`delay_ms` waits on it) until the purge is acknowledged.
  let open = Promise.resolve();
  let release = () => {};
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  await using origin = startOrigin("demo", clock, () => open);
  await using s = await cacheSetup({}, { clock, origin, adminToken: "test-admin-token-1" });
  await s.e.edge.jobs.runNow("cache-purge-sync");
  const path = "/cacheable/race?delay_ms=1";
  open = new Promise((resolve) => (release = resolve));
  const pending = s.get(path);
  for (let i = 0; i < 5000 && s.origin.count("/cacheable/race") === 0; i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  const purge = await fetch(`${s.e.url}/_edge/purge`, {
    method: "POST",
    headers: { authorization: "Bearer test-admin-token-1", "content-type": "application/json" },
    body: JSON.stringify({ urls: [path] }),
  });
  assert.equal(purge.status, 200);
  await purge.body?.cancel();
  release();
  const first = await pending;
  assert.equal(first.res.status, 200, "the request itself is answered");
  await s.settled();
  const after = await s.get(path);
  assert.equal(after.res.headers.get("x-cache"), "MISS", "neither memory nor KV kept it");
  assert.equal(s.origin.count("/cacheable/race"), 2);
});

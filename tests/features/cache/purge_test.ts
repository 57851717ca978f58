import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { cachePurgeHeadKey } from "../../../lib/features/cache/keys.ts";
import { startOrigin } from "../../helpers.ts";
import { cacheSetup } from "./_setup.ts";

const TOKEN = "s3cret-admin-token";

function purge(url: string, body: unknown, token: string | null = TOKEN): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return fetch(`${url}/_edge/purge`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

Deno.test("POST /_edge/purge checks the admin token and the body", async (t) => {
  await using s = await cacheSetup({}, { adminToken: TOKEN });
  await t.step("no token or a malformed one: 401; a wrong token: 403", async () => {
    for (const token of [null, ""]) {
      const res = await purge(s.e.url, { urls: ["/cacheable/a"] }, token);
      assert.equal(res.status, 401, String(token));
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="outpost"');
      assert.equal((await res.json()).code, "admin_token_required");
    }
    for (const token of ["wrong", `${TOKEN}x`]) {
      const res = await purge(s.e.url, { urls: ["/cacheable/a"] }, token);
      assert.equal(res.status, 403, String(token));
      assert.equal((await res.json()).code, "admin_token_invalid");
    }
    const basic = await fetch(`${s.e.url}/_edge/purge`, {
      method: "POST",
      headers: { authorization: `Basic ${TOKEN}` },
      body: "{}",
    });
    assert.equal(basic.status, 401);
    await basic.body?.cancel();
  });
  await t.step("bad JSON, bad shapes: 400 with a reason", async () => {
    const cases: Array<[unknown, string]> = [
      ["{not json", "invalid_json"],
      [{}, "validation_failed"],
      [{ urls: [] }, "validation_failed"],
      [{ urls: "/a" }, "validation_failed"],
      [{ tags: ["has space"] }, "validation_failed"],
      [{ urls: ["ftp://x/y"] }, "validation_failed"],
      [{ urls: ["http://user:pw@x/y"] }, "validation_failed"],
      [{ urls: ["http://[::1"] }, "validation_failed"],
      [{ urls: ["/a"], tags: ["x".repeat(200)] }, "validation_failed"],
      [{ urls: ["/api/never"] }, "validation_failed"],
      [{ urls: ["/a"], extra: 1 }, "validation_failed"],
      [{ urls: ["/a"], soft: "yes" }, "validation_failed"],
    ];
    for (const [body, code] of cases) {
      const res = await purge(s.e.url, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const problem = await res.json();
      assert.equal(problem.code, code, JSON.stringify(body));
      assert.equal(res.headers.get("content-type"), "application/problem+json");
    }
  });
  await t.step("no ADMIN_TOKEN configured: 503 in production, open in development", async () => {
    await using closed = await cacheSetup({ mode: "production" });
    const res = await purge(closed.e.url, { urls: ["/a"] }, null);
    assert.equal(res.status, 503);
    assert.equal((await res.json()).code, "admin_not_configured");
    await using open = await cacheSetup({});
    const dev = await purge(open.e.url, { urls: ["/a"] }, null);
    assert.equal(dev.status, 200);
    await dev.body?.cancel();
  });
});

Deno.test("Purge by URL and by tag reaches every node sharing the KV", async (t) => {
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  await using origin = startOrigin("demo", clock);
  await using kv = await Deno.openKv(":memory:");
  const cache = { ignoreHost: true };
  await using a = await cacheSetup({ cache }, { kv, clock, origin, adminToken: TOKEN });
  await using b = await cacheSetup({ cache }, { kv, clock, origin, adminToken: TOKEN });
  // Both nodes learn where the purge log is before they fill their memory.
  await b.e.edge.jobs.runNow("cache-purge-sync");
  await a.e.edge.jobs.runNow("cache-purge-sync");
  const warm = async (path: string) => {
    await a.get(path);
    await a.settled();
    const fromB = await b.get(path);
    assert.equal(fromB.res.headers.get("x-cache"), "HIT", `${path} from KV on b`);
    const again = await b.get(path);
    assert.equal(again.res.headers.get("x-cache"), "HIT");
  };

  await t.step("by URL: KV entry gone, b drops its memory copy on replay", async () => {
    await warm("/cacheable/p1");
    const res = await purge(a.e.url, { urls: ["/cacheable/p1"] });
    assert.equal(res.status, 200);
    const summary = await res.json();
    assert.equal(summary.entries, 1);
    assert.equal(summary.purged.urls, 1);
    assert.ok(b.e.edge.cache!.memory.count > 0);
    await b.e.edge.jobs.runNow("cache-purge-sync");
    const after = await b.get("/cacheable/p1");
    assert.equal(after.res.headers.get("x-cache"), "MISS");
    assert.equal(origin.count("/cacheable/p1"), 2);
  });

  await t.step("by tag: every tagged entry on both nodes", async () => {
    await warm("/cacheable/t1?tags=red,blue");
    await warm("/cacheable/t2?tags=red");
    await warm("/cacheable/t3?tags=green");
    const res = await purge(a.e.url, { tags: ["red"] });
    assert.equal((await res.json()).entries, 2);
    await b.e.edge.jobs.runNow("cache-purge-sync");
    for (
      const [path, expected] of [["/cacheable/t1?tags=red,blue", "MISS"], [
        "/cacheable/t2?tags=red",
        "MISS",
      ], ["/cacheable/t3?tags=green", "HIT"]]
    ) {
      const { res } = await b.get(path);
      assert.equal(res.headers.get("x-cache"), expected, path);
    }
  });

  await t.step("kv.watch delivers a purge without the polling job", async () => {
    await warm("/cacheable/w1");
    b.e.edge.start();
    await new Promise((r) => setTimeout(r, 50)); // the watch's first read
    await purge(a.e.url, { urls: ["/cacheable/w1"] }).then((r) => r.body?.cancel());
    const memory = b.e.edge.cache!.memory;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && memory.get("http:///cacheable/w1") !== undefined) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(memory.get("http:///cacheable/w1"), undefined, "dropped by the watch");
    const after = await b.get("/cacheable/w1");
    assert.equal(after.res.headers.get("x-cache"), "MISS");
  });

  await t.step(
    "soft purge: stale at once, revalidated, still there for stale-if-error",
    async () => {
      const path = "/cacheable/soft?max_age=600&sie=600";
      await warm(path);
      const res = await purge(a.e.url, { urls: [path], soft: true });
      assert.equal((await res.json()).soft, true);
      // b's watch is live since the step above, so its polling job is only a safety net now:
      // replay at once instead of waiting for the watch.
      await b.e.edge.cache!.purger.sync();
      origin.demo.setDown(true);
      const stale = await b.get(path);
      assert.equal(stale.res.headers.get("x-cache"), "STALE");
      assert.match(stale.res.headers.get("cache-status") ?? "", /detail=stale-if-error/);
      origin.demo.setDown(false);
      const revalidated = await a.get(path);
      assert.equal(revalidated.res.headers.get("x-cache"), "REVALIDATED");
    },
  );
});

Deno.test("Purger.sync() drops the whole memory tier when the log has a gap", async () => {
  await using s = await cacheSetup();
  const cache = s.e.edge.cache!;
  await cache.purger.sync();
  await s.get("/cacheable/gap");
  assert.equal(cache.memory.count, 1);
  // Another node purged, and the record expired before this node saw it.
  await s.e.kv.set(cachePurgeHeadKey(), new Deno.KvU64(5n));
  await cache.purger.sync();
  assert.equal(cache.memory.count, 0);
});

Deno.test("POST /_edge/purge answers 200 or 4xx to any JSON, never 5xx", async () => {
  const fc = (await import("fast-check")).default;
  await using s = await cacheSetup({}, { adminToken: TOKEN });
  const body = fc.oneof(
    fc.json(),
    fc.record({
      urls: fc.array(fc.oneof(fc.string(), fc.webUrl(), fc.constant("/cacheable/x")), {
        maxLength: 5,
      }),
      tags: fc.array(fc.string(), { maxLength: 5 }),
      soft: fc.oneof(fc.boolean(), fc.string()),
    }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  );
  await fc.assert(
    fc.asyncProperty(body, async (text) => {
      const res = await purge(s.e.url, text);
      await res.body?.cancel();
      return res.status === 200 || (res.status >= 400 && res.status < 500);
    }),
    { numRuns: 150 },
  );
});

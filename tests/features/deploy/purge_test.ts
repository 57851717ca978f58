/**
 * Purges reaching Deno Deploy's CDN. The platform's invalidation endpoint
 * (`POST http://cache.localhost/invalidate/http`, `{"tags": [...]}`, at most 500 tags) is
 * emulated by a local server: these tests show what the edge sends and how it takes failures,
 * not that the platform purges.
 */

import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { silentLogger } from "../../../lib/core/log.ts";
import { HealthConditions } from "../../../lib/core/conditions.ts";
import { MetricsRegistry } from "../../../lib/core/metrics.ts";
import { pathTag } from "../../../lib/features/deploy/cdn.ts";
import { DenoCdnPurger } from "../../../lib/features/deploy/purge.ts";
import { makeConfig, startEdge, startOrigin } from "../../helpers.ts";

/** The emulated invalidation endpoint: records each body, answers `status` (or hangs). */
function platformCache(answer: () => number | "hang" = () => 200) {
  const received: string[][] = [];
  const hanging: Array<() => void> = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    assert.equal(req.method, "POST");
    assert.equal(new URL(req.url).pathname, "/invalidate/http");
    assert.equal(req.headers.get("content-type"), "application/json");
    const body = await req.json() as { tags: string[] };
    received.push(body.tags);
    const status = answer();
    if (status === "hang") {
      await new Promise<void>((resolve) => hanging.push(resolve));
      return new Response(null, { status: 200 });
    }
    return new Response(null, { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/invalidate/http`,
    received,
    async [Symbol.asyncDispose]() {
      for (const release of hanging) release();
      await server.shutdown();
    },
  };
}

function makePurger(url: string, timeoutMs = 2000) {
  const conditions = new HealthConditions();
  const metrics = new MetricsRegistry();
  const purger = new DenoCdnPurger({
    url,
    fetch,
    timeoutMs,
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    log: silentLogger,
    metrics,
    conditions,
  });
  return { purger, conditions, metrics };
}

Deno.test("DenoCdnPurger.purge() sends each tag once, at most 500 per request", async () => {
  await using cdn = platformCache();
  const { purger, conditions } = makePurger(cdn.url);
  const tags = Array.from({ length: 1200 }, (_, i) => `t${i}`);
  const result = await purger.purge([...tags, "t0", "t1"]);
  assert.deepEqual(result, { ok: true, tags: 1200, requests: 3 });
  assert.deepEqual(cdn.received.map((b) => b.length), [500, 500, 200]);
  assert.deepEqual(cdn.received.flat(), tags);
  assert.deepEqual(conditions.list(), []);
  assert.deepEqual(await purger.purge([]), { ok: true, tags: 0, requests: 0 });
  assert.equal(cdn.received.length, 3, "nothing sent for no tags");
});

Deno.test("DenoCdnPurger.purge() reports a refusal, keeps it in health until a purge succeeds", async () => {
  let status = 500;
  await using cdn = platformCache(() => status);
  const { purger, conditions, metrics } = makePurger(cdn.url);
  const failed = await purger.purge(["a"]);
  assert.deepEqual(failed, { ok: false, tags: 1, reason: "status 500" });
  const [condition] = conditions.list();
  assert.equal(condition.name, "deno_cdn.purge");
  assert.equal(condition.level, "degraded");
  assert.match(condition.reason, /failed at 2026-01-01T00:00:00\.000Z \(status 500\)/);
  assert.doesNotMatch(condition.reason, /127\.0\.0\.1/, "no address in health");
  status = 200;
  assert.equal((await purger.purge(["a"])).ok, true);
  assert.deepEqual(conditions.list(), []);
  const purges = metrics.counter("outpost_deno_cdn_purges_total", "");
  assert.equal(purges.get({ outcome: "failed" }), 1);
  assert.equal(purges.get({ outcome: "ok" }), 1);
});

Deno.test("DenoCdnPurger.purge() gives up on an endpoint that does not answer in time", async () => {
  await using cdn = platformCache(() => "hang");
  const { purger } = makePurger(cdn.url, 100);
  assert.deepEqual(await purger.purge(["a"]), {
    ok: false,
    tags: 1,
    reason: "no answer within 100 ms",
  });
});

Deno.test("POST /_edge/purge also purges the platform's CDN: tags, and each URL's path tag", async () => {
  await using cdn = platformCache();
  await using origin = startOrigin();
  const config = makeConfig(origin.url, {}, {
    ADMIN_TOKEN: "purge-admin-token-0123456789",
    CDN_GUARD: "true",
    CDN_PURGE_URL: cdn.url,
  });
  await using e = await startEdge(config);
  // The tag a page carries is the tag a purge of its URL sends.
  const page = await fetch(`${e.url}/cacheable/spring-sale?max_age=60&tags=sale`);
  await page.body?.cancel();
  const carried = page.headers.get("deno-cache-tag")!.split(",");
  assert.deepEqual(carried, [pathTag("/cacheable/spring-sale"), "sale"]);

  const res = await fetch(`${e.url}/_edge/purge`, {
    method: "POST",
    headers: {
      authorization: "Bearer purge-admin-token-0123456789",
      "content-type": "application/json",
    },
    body: JSON.stringify({ urls: ["/cacheable/spring-sale?max_age=60"], tags: ["sale"] }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(body.deno_cdn, { tags: 2, requests: 1 });
  assert.deepEqual(cdn.received, [["sale", carried[0]]]);
});

Deno.test("POST /_edge/purge answers 502 when the platform does not confirm, and health says so", async () => {
  await using cdn = platformCache(() => 503);
  await using origin = startOrigin();
  const config = makeConfig(origin.url, {}, {
    ADMIN_TOKEN: "purge-admin-token-0123456789",
    CDN_PURGE_URL: cdn.url,
  });
  await using e = await startEdge(config);
  const res = await fetch(`${e.url}/_edge/purge`, {
    method: "POST",
    headers: {
      authorization: "Bearer purge-admin-token-0123456789",
      "content-type": "application/json",
    },
    body: JSON.stringify({ tags: ["sale"] }),
  });
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const problem = await res.json();
  assert.equal(problem.code, "cdn_purge_failed");
  assert.match(problem.detail, /Purged from the edge cache.*status 503.*repeat/);
  assert.equal(problem.edge.purged.tags, 1, "the edge's own purge is reported");
  const health = await (await fetch(`${e.url}/_edge/health`)).json();
  assert.equal(health.status, "degraded");
  assert.ok(health.reasons.some((r: string) => r.includes("Deno Deploy's CDN failed")));
});

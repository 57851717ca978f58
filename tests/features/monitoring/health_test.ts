import assert from "node:assert/strict";
import { LazyIpCountry } from "../../../lib/features/geo/ipdb.ts";
import type { IpCountryLookup } from "../../../lib/features/geo/types.ts";
import { judge, summarize } from "../../../lib/features/monitoring/health.ts";
import { Field, SlidingWindow } from "../../../lib/features/monitoring/window.ts";
import { get, makeConfig, startEdge, startOrigin } from "../../helpers.ts";

const THRESHOLDS = { maxErrorRate: 0.01, maxP99Ms: 200, minRequests: 20 };
const T0 = Date.UTC(2026, 0, 1);

const EDGE_5XX = (1 << Field.errors) | (1 << Field.edgeErrors);
const ORIGIN_5XX = (1 << Field.errors) | (1 << Field.originErrors);

function windowWith(
  n: number,
  ms: (i: number) => number,
  errors = 0,
  kind = EDGE_5XX,
): SlidingWindow {
  const w = new SlidingWindow({ windowMs: 300_000, slotMs: 10_000 });
  for (let i = 0; i < n; i++) w.record(T0, ms(i), i < errors ? kind : 0);
  return w;
}

Deno.test("judge() applies the error rate and p99 thresholds", async (t) => {
  await t.step("healthy under both", () => {
    const s = summarize(windowWith(200, () => 10, 1).total(T0), 300_000);
    assert.equal(s.error_rate, 0.005);
    assert.deepEqual(judge(s, THRESHOLDS), { status: "ok", reasons: [], insufficient_data: false });
  });
  await t.step("an error rate at the threshold is unhealthy", () => {
    const s = summarize(windowWith(200, () => 10, 2).total(T0), 300_000);
    const v = judge(s, THRESHOLDS);
    assert.equal(v.status, "unhealthy");
    assert.match(
      v.reasons[0],
      /^edge error rate 1\.00% ≥ 1\.00% \(2 5xx made by the edge of 200 requests/,
    );
  });
  await t.step("5xx passed through from the origin are not judged by default", () => {
    const s = summarize(windowWith(100, () => 10, 50, ORIGIN_5XX).total(T0), 300_000);
    assert.equal(s.error_rate, 0.5);
    assert.equal(s.origin_error_rate, 0.5);
    assert.equal(s.edge_error_rate, 0);
    assert.equal(judge(s, THRESHOLDS).status, "ok");
    const all = judge(s, { ...THRESHOLDS, countOriginErrors: true });
    assert.equal(all.status, "unhealthy");
    assert.match(all.reasons[0], /^error rate 50\.0% ≥ 1\.00% \(50 of 100 requests/);
  });
  await t.step("a slow p99 is unhealthy with its own reason", () => {
    const s = summarize(windowWith(100, (i) => (i < 98 ? 5 : 450)).total(T0), 300_000);
    const v = judge(s, THRESHOLDS);
    assert.equal(v.status, "unhealthy");
    assert.deepEqual(v.reasons.length, 1);
    assert.match(v.reasons[0], /^p99 latency 45\d\.\d ms ≥ 200 ms$/);
  });
  await t.step("too few requests to judge counts as healthy", () => {
    const s = summarize(windowWith(5, () => 999, 5).total(T0), 300_000);
    assert.deepEqual(judge(s, THRESHOLDS), { status: "ok", reasons: [], insufficient_data: true });
  });
  await t.step("thresholds are configurable", () => {
    const s = summarize(windowWith(100, () => 50, 3).total(T0), 300_000);
    assert.equal(judge(s, { ...THRESHOLDS, maxErrorRate: 0.05 }).status, "ok");
    assert.equal(judge(s, { ...THRESHOLDS, maxErrorRate: 0.05, maxP99Ms: 40 }).status, "unhealthy");
  });
});

Deno.test("GET /_edge/health turns 503 with reasons and recovers as the window slides", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(
    // Only error rates are judged here: a loaded machine's latency must not decide the verdict.
    makeConfig(origin.url, {
      proxy: { timeoutMs: 300, maxAttempts: 1 },
      metrics: { health: { maxP99Ms: 600_000 } },
    }),
  );
  const compact = await get(`${e.url}/_edge/health`);
  assert.equal(compact.res.status, 200);
  assert.ok(compact.text.length < 250, `a small answer: ${compact.text}`);
  assert.deepEqual(Object.keys(compact.body as object).sort(), [
    "edge_error_rate",
    "node_id",
    "origin_error_rate",
    "p99_ms",
    "reasons",
    "region",
    "requests",
    "status",
    "uptime_s",
  ]);
  const first = await get(`${e.url}/_edge/health?verbose=1`);
  assert.equal(first.res.status, 200);
  const ok = first.body as Record<string, unknown>;
  assert.equal(ok.status, "ok");
  assert.equal(ok.region, "us-east");
  assert.deepEqual(ok.thresholds, {
    error_rate: 0.01,
    p99_ms: 600_000,
    min_requests: 20,
    latency: "total",
    count_origin_errors: false,
  });
  for (
    const field of ["origins", "ip_database", "jobs", "uptime_s", "error_rate", "p99_ms"]
  ) {
    assert.ok(field in ok, field);
  }
  assert.deepEqual(ok.conditions, {}, "verbose always lists conditions");
  assert.equal(ok.ip_database, "off", "this app was built without an IP database");

  // The origin's own 500s are shown, not held against the edge.
  for (let i = 0; i < 25; i++) await get(`${e.url}/api/echo`);
  for (let i = 0; i < 25; i++) await get(`${e.url}/status/500`);
  const passed = await get(`${e.url}/_edge/health`);
  assert.equal(passed.res.status, 200);
  const p = passed.body as { status: string; origin_error_rate: number; edge_error_rate: number };
  assert.equal(p.status, "ok");
  assert.equal(p.origin_error_rate, 0.5);
  assert.equal(p.edge_error_rate, 0);

  // 5xx the edge makes itself (here: the origin does not answer in time) are.
  // Side by side: each waits out the 300 ms deadline, none depends on another.
  await Promise.all(Array.from({ length: 5 }, () => get(`${e.url}/faults/hang`)));
  const bad = await get(`${e.url}/_edge/health`);
  assert.equal(bad.res.status, 503);
  const body = bad.body as { status: string; edge_error_rate: number; reasons: string[] };
  assert.equal(body.status, "unhealthy");
  assert.ok(Math.abs(body.edge_error_rate - 5 / 55) < 1e-6, String(body.edge_error_rate));
  assert.match(body.reasons[0], /^edge error rate 9\.09% ≥ 1\.00% \(5 5xx made by the edge/);

  // Health checks themselves stay out of the window; five minutes later the errors are gone.
  e.clock.advance(300_000);
  const again = await get(`${e.url}/_edge/health`);
  assert.equal(again.res.status, 200);
  assert.equal((again.body as { requests: number }).requests, 0);
});

Deno.test("GET /_edge/health with metrics off stays 200 and says so", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url, {}, { METRICS_ENABLED: "false" }));
  for (let i = 0; i < 30; i++) await get(`${e.url}/status/500`);
  const { res, body } = await get(`${e.url}/_edge/health`);
  assert.equal(res.status, 200);
  assert.equal((body as { monitoring: string }).monitoring, "off");
  assert.equal((body as { requests: number }).requests, 0);
});

Deno.test("GET /_edge/health before routing answers like the router, and never stale", async () => {
  await using origin = startOrigin("demo");
  await using e = await startEdge(makeConfig(origin.url));
  const first = await get(`${e.url}/_edge/health`);
  assert.equal(first.res.headers.get("content-type"), "application/json");
  assert.equal(first.res.headers.get("cache-control"), "no-store");
  assert.equal(first.res.headers.get("x-served-by"), "us-east");
  assert.match(first.res.headers.get("x-request-id") ?? "", /^[0-9a-f]{12}-/);
  const again = await get(`${e.url}/_edge/health?verbose=0`);
  assert.deepEqual(again.body, first.body, "the same answer while nothing changed");
  e.clock.advance(2000);
  const later = (await get(`${e.url}/_edge/health#x`)).body as { uptime_s: number };
  assert.equal(later.uptime_s, (first.body as { uptime_s: number }).uptime_s + 2);
  for (let i = 0; i < 3; i++) await get(`${e.url}/api/echo`);
  const counted = (await get(`${e.url}/_edge/health`)).body as { requests: number };
  assert.equal(counted.requests, 3, "a request in the window is seen at once");
  // HEAD goes through the router to the same handler.
  const head = await fetch(`${e.url}/_edge/health`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-type"), "application/json");
  await head.body?.cancel();
  const near = await get(`${e.url}/_edge/healthz`);
  assert.equal(near.res.status, 404, "only the exact path");
});

Deno.test("metrics.health.latency edge leaves the origin's wait out of the verdict", async () => {
  await using origin = startOrigin("demo");
  // The origin's wait (1 s) is far above the threshold and the edge's own time far below it,
  // whatever the machine's load.
  const path = "/cacheable/slow?delay_ms=1000&cc=no-store";
  // Both settings side by side, each on its own edge: one origin wait instead of two.
  await Promise.all((["total", "edge"] as const).map(async (latency) => {
    await using e = await startEdge(
      makeConfig(origin.url, { metrics: { health: { maxP99Ms: 500, minRequests: 5, latency } } }),
    );
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(`${e.url}${path}`)));
    assert.ok(answers.every((a) => a.res.status === 200));
    const { res, body } = await get(`${e.url}/_edge/health?verbose=1`);
    const h = body as { status: string; reasons: string[]; p99_ms: number; thresholds: object };
    if (latency === "total") {
      assert.equal(res.status, 503);
      assert.match(h.reasons[0], /^p99 latency \d+\.\d ms ≥ 500 ms$/);
    } else {
      assert.equal(res.status, 200, JSON.stringify(h));
      assert.ok(h.p99_ms < 500, String(h.p99_ms));
    }
    assert.equal((h.thresholds as { latency: string }).latency, latency);
  }));
});

Deno.test("GET /_edge/health says warming while the IP database loads, and serves meanwhile", async (t) => {
  await using origin = startOrigin();
  const ipdb = new LazyIpCountry();
  await using e = await startEdge(makeConfig(origin.url), { ipdb });
  const trusted = { "x-forwarded-for": "8.8.8.8" };
  const health = async () => {
    const compact = await get(`${e.url}/_edge/health`);
    const verbose = await get(`${e.url}/_edge/health?verbose=1`);
    return {
      status: compact.res.status,
      body: compact.body as { status: string; reasons: string[]; conditions?: object },
      ipDatabase: (verbose.body as { ip_database: string }).ip_database,
    };
  };

  await t.step("loading: degraded (200) with a warming reason; requests are answered", async () => {
    const { promise, resolve } = Promise.withResolvers<IpCountryLookup>();
    const loaded = ipdb.load(() => promise);
    const h = await health();
    assert.equal(h.status, 200);
    assert.equal(h.body.status, "degraded");
    assert.deepEqual(h.body.conditions, { warming: "degraded" });
    assert.match(h.body.reasons.join("; "), /^warming: the IP database is loading/);
    assert.equal(h.ipDatabase, "loading");
    // Meanwhile locations come from headers or the default, and pages are served.
    const page = await get(`${e.url}/api/echo`, { headers: trusted });
    assert.equal(page.res.status, 200);
    const where = await get(`${e.url}/_edge/whereami`, { headers: trusted });
    assert.equal((where.body as { source: string }).source, "default");
    // Every start goes through this: no health transition, no alert.
    assert.equal(e.edge.monitor.alerts.status, "ok");
    assert.doesNotMatch(e.edge.monitor.prometheus(), /outpost_health_transitions_total\{/);
    resolve({ lookup: (ip) => (ip === "8.8.8.8" ? "US" : null) });
    await loaded;
  });
  await t.step("loaded: the condition clears", async () => {
    const h = await health();
    assert.equal(h.body.status, "ok");
    assert.equal(h.body.conditions, undefined);
    assert.equal(h.ipDatabase, "ready");
    const where = await get(`${e.url}/_edge/whereami`, { headers: trusted });
    assert.equal((where.body as { country: string }).country, "US");
  });
});

Deno.test("GET /_edge/health is degraded when the IP database failed to load", async () => {
  await using origin = startOrigin();
  const ipdb = new LazyIpCountry();
  await using e = await startEdge(makeConfig(origin.url), { ipdb });
  await ipdb.load(() => Promise.reject(new Error("/secret/path/db.mmdb: corrupt")));
  const h = await get(`${e.url}/_edge/health`);
  assert.equal(h.res.status, 200);
  const body = h.body as { status: string; reasons: string[]; conditions: object };
  assert.equal(body.status, "degraded");
  assert.deepEqual(body.conditions, { ip_database: "degraded" });
  assert.match(body.reasons[0], /^the IP database failed to load/);
  assert.ok(!h.text.includes("/secret/path"), "no internal detail in public health");
  assert.equal(e.edge.monitor.alerts.status, "degraded", "a failed load is a real transition");
});

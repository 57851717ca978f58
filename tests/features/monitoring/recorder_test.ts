import assert from "node:assert/strict";
import type { EdgeRequestContext } from "../../../lib/core/request.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import { RequestRecorder } from "../../../lib/features/monitoring/recorder.ts";
import { MetricsRegistry } from "../../../lib/core/metrics.ts";
import { ROUTE_GROUPS, routeGroupOf } from "../../../lib/platform/http/route_group.ts";
import { Field, SlidingWindow } from "../../../lib/features/monitoring/window.ts";

function makeCtx(fields: Partial<EdgeRequestContext> = {}): EdgeRequestContext {
  return { requestId: "r", startedAt: 0, timings: [], ...fields } as EdgeRequestContext;
}

Deno.test("routeGroupOf() maps paths to a fixed set of groups", () => {
  const cases: Array<[string, string, string]> = [
    ["http://h/_edge/health", "GET", "edge"],
    ["http://h/_edge", "GET", "edge"],
    ["http://h/_edgex", "GET", "cache"],
    ["http://h/api/echo?x=1", "POST", "api"],
    ["http://h/api", "GET", "api"],
    ["http://h/apis", "GET", "cache"],
    ["http://h/items/7", "PUT", "items"],
    ["http://h/crdt/counter/x", "POST", "crdt"],
    ["http://h/events?x", "POST", "events"],
    ["http://h/_central/sync", "POST", "central"],
    ["http://h/users/7", "GET", "cache"],
    ["http://h/users/7", "HEAD", "cache"],
    ["http://h/users/7", "DELETE", "other"],
    ["http://h/", "GET", "cache"],
    ["http://h", "PATCH", "other"],
  ];
  for (const [url, method, group] of cases) {
    assert.equal(ROUTE_GROUPS[routeGroupOf(url, method)], group, `${method} ${url}`);
  }
});

Deno.test("RequestRecorder tells the edge's own 5xx from ones passed through", async (t) => {
  const upstream = { region: "eu-west", ms: 3 };
  const cases: Array<[string, Partial<EdgeRequestContext>, "edge" | "origin"]> = [
    ["a problem the edge answered", { problem: "origin_unreachable" }, "edge"],
    ["no origin and no cache: the edge made it", {}, "edge"],
    ["an origin's 5xx", { upstream }, "origin"],
    ["a stored 5xx", { cacheOutcome: "STALE" }, "origin"],
    ["an origin answered, then the edge failed", { upstream, problem: "internal_error" }, "edge"],
  ];
  for (const [name, fields, source] of cases) {
    await t.step(name, () => {
      const metrics = new MetricsRegistry();
      const window = new SlidingWindow({ windowMs: 60_000, slotMs: 10_000 });
      const r = new RequestRecorder({ metrics, region: "eu-west", window, now: () => 0 });
      r.record(routeGroupOf("http://h/page", "GET"), 502, makeCtx(fields), 1);
      const errors = metrics.counter("outpost_http_server_errors_total", "");
      assert.equal(errors.get({ region: "eu-west", route: "cache", source }), 1);
      const other = source === "edge" ? "origin" : "edge";
      assert.equal(errors.get({ region: "eu-west", route: "cache", source: other }), 0);
    });
  }
});

Deno.test("RequestRecorder counts cache outcomes, sources of 5xx and denials", () => {
  const metrics = new MetricsRegistry();
  const window = new SlidingWindow({ windowMs: 60_000, slotMs: 10_000 });
  const clock = new ManualClock();
  const r = new RequestRecorder({ metrics, region: "eu-west", window, now: () => clock.now() });
  const cache = routeGroupOf("http://h/page", "GET");
  for (const outcome of ["HIT", "HIT", "STALE", "MISS", "BYPASS"] as const) {
    r.record(cache, 200, makeCtx({ cacheOutcome: outcome }), 2);
  }
  r.record(cache, 502, makeCtx({ problem: "origin_unreachable" }), 30);
  r.record(cache, 500, makeCtx({ upstream: { region: "us-east", ms: 12 } }), 14);
  r.record(cache, 429, makeCtx(), 0.1);
  r.record(routeGroupOf("http://h/_edge/health", "GET"), 200, makeCtx(), 0.05);

  const requests = metrics.counter("outpost_http_requests_total", "");
  assert.equal(requests.get({ region: "eu-west", route: "cache", cache: "HIT", status: "2xx" }), 2);
  assert.equal(requests.get({ region: "eu-west", route: "edge", cache: "none", status: "2xx" }), 1);
  const errors = metrics.counter("outpost_http_server_errors_total", "");
  assert.equal(errors.get({ region: "eu-west", route: "cache", source: "edge" }), 1);
  assert.equal(errors.get({ region: "eu-west", route: "cache", source: "origin" }), 1);
  const denied = metrics.counter("outpost_http_denied_total", "");
  assert.equal(denied.get({ region: "eu-west", route: "cache", status: "429" }), 1);
  const upstream = metrics.histogram("outpost_origin_response_duration_seconds", "");
  assert.equal(upstream.series({ region: "eu-west", upstream: "us-east" }).count, 1);

  const total = window.total(clock.now()).counts;
  assert.equal(total[Field.requests], 8, "the /_edge request stays out of the window");
  assert.equal(total[Field.cacheHit], 2);
  assert.equal(total[Field.cacheStale], 1);
  assert.equal(total[Field.cacheMiss], 1);
  assert.equal(total[Field.cacheBypass], 1);
  assert.equal(total[Field.errors], 2);
  assert.equal(total[Field.edgeErrors], 1);
  assert.equal(total[Field.originErrors], 1);
  assert.equal(total[Field.status429], 1);
  assert.equal(total[Field.status4xx], 1);
});

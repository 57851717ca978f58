/**
 * The cost of recording one request on the hot path (target: under 1 µs), and of the reads
 * behind /_edge/health, snapshots and the Prometheus text. Run: deno bench -A bench/metrics_bench.ts
 */

import type { EdgeRequestContext } from "../lib/core/request.ts";
import { ManualClock } from "../lib/core/clock.ts";
import { summarize } from "../lib/features/monitoring/health.ts";
import { LatencyHistogram } from "../lib/core/histogram.ts";
import { renderPrometheus } from "../lib/features/monitoring/prometheus.ts";
import { RequestRecorder } from "../lib/features/monitoring/recorder.ts";
import { MetricsRegistry } from "../lib/core/metrics.ts";
import { routeGroupOf } from "../lib/platform/http/route_group.ts";
import { buildSnapshot } from "../lib/features/monitoring/snapshot.ts";
import { SlidingWindow } from "../lib/features/monitoring/window.ts";

const clock = new ManualClock();
const metrics = new MetricsRegistry();
const window = new SlidingWindow({ windowMs: 300_000, slotMs: 10_000 });
const recorder = new RequestRecorder({
  metrics,
  region: "us-east",
  window,
  now: () => clock.now(),
});
const proxied = {
  requestId: "x",
  startedAt: 0,
  timings: [],
  upstream: { region: "eu-west", ms: 12.5 },
} as unknown as EdgeRequestContext;
const cached = {
  requestId: "x",
  startedAt: 0,
  timings: [],
  cacheOutcome: "HIT",
} as unknown as EdgeRequestContext;
const urls = [
  "http://edge.example/api/echo?x=1",
  "http://edge.example/products/42",
  "http://edge.example/_edge/health",
];
let i = 0;
// Warm every series so the benchmark measures the steady state.
for (const url of urls) recorder.record(routeGroupOf(url, "GET"), 200, proxied, 1);

Deno.bench("record one proxied request (route group + counters + histograms + window)", {
  group: "record",
  baseline: true,
}, () => {
  const url = urls[i++ % 2];
  recorder.record(routeGroupOf(url, "GET"), 200, proxied, (i & 1023) / 100);
});

Deno.bench("record one cache hit", { group: "record" }, () => {
  recorder.record(routeGroupOf(urls[1], "GET"), 200, cached, 0.3);
});

Deno.bench("record one /_edge request (not in the window)", { group: "record" }, () => {
  recorder.record(routeGroupOf(urls[2], "GET"), 200, cached, 0.05);
});

const h = new LatencyHistogram();
Deno.bench("LatencyHistogram.record()", { group: "parts" }, () => {
  h.record((i++ & 4095) / 10);
});

Deno.bench("routeGroupOf()", { group: "parts" }, () => {
  routeGroupOf(urls[i++ % 3], "GET");
});

for (let k = 0; k < 100_000; k++) {
  clock.advance(3);
  recorder.record(1, k % 100 === 0 ? 500 : 200, proxied, Math.exp((k % 1000) / 150));
}

Deno.bench("health figures: summarize(window) with p50/p95/p99", { group: "reads" }, () => {
  summarize(window.total(clock.now()), 300_000);
});

Deno.bench("snapshot for KV", { group: "reads" }, () => {
  buildSnapshot({
    nodeId: "n",
    region: "us-east",
    now: clock.now(),
    ttlMs: 60_000,
    startedAt: 0,
    window,
    health: { status: "ok", reasons: [], insufficient_data: false },
    metrics,
  });
});

Deno.bench("Prometheus text", { group: "reads" }, () => {
  renderPrometheus(metrics, { region: "us-east" });
});

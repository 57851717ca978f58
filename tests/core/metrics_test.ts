import assert from "node:assert/strict";
import { MetricsRegistry } from "../../lib/core/metrics.ts";

Deno.test("MetricsRegistry counts by label set", () => {
  const m = new MetricsRegistry();
  const c = m.counter("outpost_things_total", "Things");
  c.inc();
  c.inc({ kind: "a" });
  c.inc({ kind: "a" }, 2);
  c.inc({ kind: "b", zone: "x" });
  c.inc({ zone: "x", kind: "b" });
  assert.equal(c.get(), 1);
  assert.equal(c.get({ kind: "a" }), 3);
  assert.equal(c.get({ zone: "x", kind: "b" }), 2);
  assert.equal(m.counter("outpost_things_total", "again"), c);
  assert.throws(() => c.inc(undefined, -1), /cannot decrease/);
  assert.throws(() => m.gauge("outpost_things_total", "x"), /already a counter/);
  assert.throws(() => m.counter("bad name", "x"), /Invalid metric name/);
});

Deno.test("MetricsRegistry bounds the series of one metric", () => {
  const m = new MetricsRegistry({ maxSeriesPerMetric: 3 });
  const c = m.counter("outpost_paths_total", "Paths");
  for (let i = 0; i < 10; i++) c.inc({ path: `/p${i}` });
  assert.equal(m.families()[0].series.length, 3);
});

Deno.test("MetricsRegistry.families() lists gauges and counters", () => {
  const m = new MetricsRegistry();
  m.gauge("outpost_b", "B").set(5);
  m.counter("outpost_a", "A").inc({ x: "1" });
  assert.deepEqual(m.families().map((f) => [f.name, f.type, f.series[0].value]), [
    ["outpost_a", "counter", 1],
    ["outpost_b", "gauge", 5],
  ]);
});

Deno.test("MetricsRegistry.counterTotals() sums each matching counter as families() would", () => {
  const m = new MetricsRegistry();
  const a = m.counter("outpost_analytics_events_total", "A");
  a.inc({ type: "click" }, 3);
  a.inc({ type: "view" }, 4);
  m.counter("outpost_analytics_events_rejected_total", "R").inc();
  m.counter("outpost_other_total", "O").inc(undefined, 9);
  m.gauge("outpost_analytics_events_gauge_total", "a gauge, never summed").set(5);
  const filter = /^outpost_analytics_events(?:_[a-z]+)*_total$/;
  const fromFamilies = new Map(
    m.families().filter((f) => f.type === "counter" && filter.test(f.name))
      .map((f) => [f.name, f.series.reduce((sum, s) => sum + s.value, 0)]),
  );
  assert.deepEqual(m.counterTotals(filter), fromFamilies);
  assert.deepEqual(
    m.counterTotals(filter),
    new Map([["outpost_analytics_events_total", 7], [
      "outpost_analytics_events_rejected_total",
      1,
    ]]),
  );
});

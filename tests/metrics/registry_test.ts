import assert from "node:assert/strict";
import { MetricsRegistry } from "../../lib/metrics/registry.ts";

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

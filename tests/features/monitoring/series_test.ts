/**
 * The history behind the dashboard's charts: per-slot latency (coarse histograms merged across
 * nodes), cache hit rates and analytics events, kept by every node and merged by `/_edge/stats`.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../../../lib/core/clock.ts";
import { CounterSlots } from "../../../lib/features/monitoring/counter_slots.ts";
import { LatencyHistogram } from "../../../lib/core/histogram.ts";
import { snapshotKey } from "../../../lib/features/monitoring/keys.ts";
import {
  COARSE_RELATIVE_ERROR,
  coarsen,
  coarsePercentiles,
} from "../../../lib/features/monitoring/slot_latency.ts";
import {
  MAX_SNAPSHOT_BYTES,
  SLOT_LATENCY_BUDGET,
} from "../../../lib/features/monitoring/snapshot.ts";
import type { GlobalStats } from "../../../lib/features/monitoring/stats.ts";
import { Field } from "../../../lib/features/monitoring/window.ts";
import { deadOrigin, get, makeConfig, startEdge, type TestEdge } from "../../helpers.ts";

const latencies = fc.array(fc.double({ min: 0, max: 120_000, noNaN: true }), {
  minLength: 1,
  maxLength: 300,
});

function histogramOf(values: readonly number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h;
}

Deno.test("coarsePercentiles() stays within its stated error of the exact histogram", () => {
  fc.assert(
    fc.property(latencies, fc.integer({ min: 1, max: 100 }), (values, p) => {
      const fine = histogramOf(values).percentile(p)!;
      const [coarse] = coarsePercentiles([coarsen(histogramOf(values))], [p]);
      assert.ok(coarse! >= fine, `${coarse} < ${fine}`);
      assert.ok(
        coarse! <= Math.max(fine * (1 + COARSE_RELATIVE_ERROR), fine + 0.008) + 1e-9,
        `${coarse} too far above ${fine}`,
      );
    }),
  );
});

Deno.test("coarsePercentiles() of several histograms equals that of their sum (exact merge)", () => {
  fc.assert(
    fc.property(latencies, latencies, (a, b) => {
      const apart = coarsePercentiles([coarsen(histogramOf(a)), coarsen(histogramOf(b))], [
        50,
        99,
      ]);
      const together = coarsePercentiles([coarsen(histogramOf([...a, ...b]))], [50, 99]);
      assert.deepEqual(apart, together);
    }),
  );
  assert.deepEqual(coarsePercentiles([], [50, 99]), [null, null]);
  assert.deepEqual(coarsePercentiles([[]], [50]), [null]);
});

Deno.test("CounterSlots puts what each total gained into the sampled slot", async (t) => {
  await t.step("gains, resets and slots that fall out of the ring", () => {
    const c = new CounterSlots({ slots: 3 });
    c.sample(10, new Map([["a", 5]]));
    c.sample(10, new Map([["a", 7]]));
    c.sample(11, new Map([["a", 7], ["b", 4]]));
    c.sample(12, new Map([["a", 2]])); // a reset: counts from zero
    assert.deepEqual(c.series(10, 3), { a: [7, 0, 2], b: [0, 4, 0] });
    c.sample(13, new Map([["a", 3]]));
    assert.deepEqual(c.series(10, 4), { a: [0, 0, 2, 1], b: [0, 4, 0, 0] }, "slot 10 is gone");
  });
  await t.step("a late sample for a slot already reused is dropped, not misplaced", () => {
    const c = new CounterSlots({ slots: 2 });
    c.sample(5, new Map([["a", 1]]));
    c.sample(3, new Map([["a", 4]]));
    assert.deepEqual(c.series(4, 2), { a: [0, 1] });
  });
  await t.step("at most maxCounters names are followed", () => {
    const c = new CounterSlots({ slots: 2, maxCounters: 1 });
    c.sample(0, new Map([["a", 1], ["b", 1]]));
    assert.deepEqual(Object.keys(c.series(0, 1)), ["a"]);
  });
});

/** Edges with 1-second slots over a 10-second window, on one KV and one manual clock. */
async function cluster(regions: string[], clock: ManualClock, kv: Deno.Kv) {
  const edges: TestEdge[] = [];
  for (const region of regions) {
    const config = makeConfig(
      deadOrigin(),
      { metrics: { slotMs: 1000, windowMs: 10_000 } },
      { EDGE_REGION: region },
    );
    edges.push(await startEdge(config, { kv, clock }));
  }
  return edges;
}

const HIT = 1 << Field.cacheHit;
const MISS = 1 << Field.cacheMiss;

Deno.test("GET /_edge/stats gives latency, hit rate and events per slot, merged per region", async (t) => {
  const kv = await Deno.openKv(":memory:");
  const T0 = Date.UTC(2026, 0, 1, 12); // a slot boundary
  const clock = new ManualClock(T0 + 100);
  // Two nodes in us-east, one in eu-west.
  const edges = await cluster(["us-east", "us-east", "eu-west"], clock, kv);
  try {
    const [a, b, eu] = edges.map((e) => e.edge);
    // Slot 0: a answers 9 hits in 10 ms, b one miss in 500 ms (together p99 = 500 ms).
    for (let i = 0; i < 9; i++) a.monitor.window.record(clock.now(), 10, HIT);
    b.monitor.window.record(clock.now(), 500, MISS);
    eu.monitor.window.record(clock.now(), 40, 0);
    const accepted = (e: typeof a) =>
      e.metrics.counter("outpost_analytics_events_accepted_total", "Events stored");
    accepted(a).inc({ source: "api" }, 30);
    accepted(eu).inc({ source: "api" }, 10);
    for (const e of edges) await e.edge.jobs.runNow("metrics.snapshot");
    // Slot 1: only misses on a; 5 more events on b.
    clock.advance(1000);
    a.monitor.window.record(clock.now(), 20, MISS);
    accepted(b).inc({ source: "api" }, 5);
    for (const e of edges) await e.edge.jobs.runNow("metrics.snapshot");
    clock.advance(1000); // slots 0 and 1 are complete now
    for (const e of edges) await e.edge.jobs.runNow("metrics.snapshot");

    const stats = (await get(`${edges[2].url}/_edge/stats`)).body as GlobalStats;
    const s = stats.series!;
    const at = (t: number) => (t - s.start) / s.slot_ms;
    const slot0 = at(T0), slot1 = at(T0 + 1000);
    assert.ok(s.complete >= slot1, "both slots are complete");

    await t.step("cache hit rate per slot: hits over lookups of every node in the region", () => {
      assert.equal(s.regions["us-east"].cache_hit_rate[slot0], 0.9);
      assert.equal(s.regions["us-east"].cache_hit_rate[slot1], 0);
      assert.equal(s.regions["eu-west"].cache_hit_rate[slot0], null, "no lookups: no rate");
    });
    await t.step("latency per slot from the region's merged histograms", () => {
      const us = s.regions["us-east"];
      assert.ok(Math.abs(us.p99_ms[slot0]! - 500) / 500 <= COARSE_RELATIVE_ERROR);
      assert.ok(us.p50_ms[slot0]! >= 10 && us.p50_ms[slot0]! <= 10 * (1 + COARSE_RELATIVE_ERROR));
      assert.ok(Math.abs(us.p99_ms[slot1]! - 20) / 20 <= COARSE_RELATIVE_ERROR);
      assert.equal(s.regions["eu-west"].p99_ms[slot1], null, "an empty slot has no latency");
    });
    await t.step("analytics events per second per slot, summed over every edge", () => {
      const events = s.events_per_s["outpost_analytics_events_accepted_total"];
      assert.equal(events[slot0], 40);
      assert.equal(events[slot1], 5);
      assert.equal(
        Object.keys(s.events_per_s).some((n) => n.includes("bytes")),
        false,
        "byte counters stay out",
      );
    });
    await t.step("a snapshot from an older node without these fields still merges", async () => {
      const old = edges[0].edge.monitor.snapshot();
      const { hits: _h, lookups: _l, latency: _lat, events: _e, ...slots } = old.window.slots;
      await kv.set(snapshotKey("ap-southeast", "old-node"), {
        ...old,
        node_id: "old-node",
        region: "ap-southeast",
        window: { ...old.window, slots },
      });
      const merged = (await get(`${edges[2].url}/_edge/stats`)).body as GlobalStats;
      assert.equal(merged.skipped.corrupt, 0);
      const ap = merged.series!.regions["ap-southeast"];
      assert.ok(ap.requests_per_s.some((v) => v > 0));
      assert.ok(ap.p99_ms.every((v) => v === null));
      assert.ok(ap.cache_hit_rate.every((v) => v === null));
    });
    await t.step("a corrupt slot histogram skips the snapshot", async () => {
      const good = edges[0].edge.monitor.snapshot();
      const latency = good.window.slots.latency!.map(() => "zz:1");
      await kv.set(snapshotKey("ap-southeast", "old-node"), {
        ...good,
        node_id: "old-node",
        region: "ap-southeast",
        window: { ...good.window, slots: { ...good.window.slots, latency } },
      });
      const merged = (await get(`${edges[2].url}/_edge/stats`)).body as GlobalStats;
      assert.equal(merged.skipped.corrupt, 1);
    });
  } finally {
    for (const e of edges) await e[Symbol.asyncDispose]();
    kv.close();
  }
});

Deno.test("A long window's snapshot keeps the newest slot histograms within budget", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const config = makeConfig(deadOrigin(), { metrics: { slotMs: 1000, windowMs: 360_000 } });
  await using e = await startEdge(config, { clock });
  const w = e.edge.monitor.window;
  // Every slot holds latencies over six decades: the widest histograms there can be.
  for (let slot = 0; slot < 360; slot++) {
    for (let k = 0; k < 400; k++) w.record(clock.now(), 0.01 * 1.035 ** k, 0);
    clock.advance(1000);
  }
  const snapshot = e.edge.monitor.snapshot();
  const size = JSON.stringify(snapshot).length;
  assert.ok(size <= MAX_SNAPSHOT_BYTES, `snapshot is ${size} bytes`);
  const latency = snapshot.window.slots.latency!;
  const kept = latency.filter((p) => p !== "").length;
  assert.ok(kept > 0 && kept < 360, `${kept} slots kept`);
  // The newest complete slots are the ones kept (the current slot, last, has no requests).
  assert.equal(latency.at(-1), "");
  assert.equal(latency.slice(-(kept + 1), -1).every((p) => p !== ""), true, "the newest ones");
  assert.ok(latency.join(",").length <= SLOT_LATENCY_BUDGET);
  await e.edge.jobs.runNow("metrics.snapshot");
});

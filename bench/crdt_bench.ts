/**
 * CRDT micro-benchmarks: counter increment + persist and OR-Set add + persist on `:memory:` KV,
 * the pure operations, and the merge of two 10,000-element OR-Set replicas (target < 10 ms).
 * Before the benches run, it measures the size of a delta after 100 changes on a 10,000-element
 * set against the full state (target ≤ 5%) and writes it to bench/results/crdt_delta_size.*.
 * Run: deno bench --allow-all bench/crdt_bench.ts
 */

import { ManualClock } from "../lib/core/clock.ts";
import { EMPTY_GCOUNTER, gcounterIncrement } from "../lib/features/crdt/gcounter.ts";
import {
  EMPTY_ORSET,
  type OrSet,
  orsetAdd,
  orsetJoinDeltas,
  orsetMerge,
  orsetRemove,
} from "../lib/features/crdt/orset.ts";
import { CrdtStore } from "../lib/features/crdt/store.ts";
import { orsetToWire } from "../lib/features/crdt/wire.ts";
import { silentLogger } from "../lib/core/log.ts";
import { MetricsRegistry } from "../lib/core/metrics.ts";
import { writeResult } from "./lib/report.ts";

function build(replica: string, n: number, prefix = "element"): OrSet {
  let s: OrSet = { entries: new Map(), context: EMPTY_ORSET.context };
  for (let i = 0; i < n; i++) s = orsetAddFast(s, replica, `${prefix}-${i}`);
  return s;
}

/** Builds big sets without copying the entries map on every add (setup only). */
function orsetAddFast(s: OrSet, replica: string, element: string): OrSet {
  const m = orsetAdd({ entries: new Map(), context: s.context }, replica, element);
  (s.entries as Map<string, unknown>).set(element, m.state.entries.get(element));
  return { entries: s.entries, context: m.state.context };
}

// Two replicas of 10,000 elements that share half their history and diverged after it.
const shared = build("a", 5_000, "shared");
const a = orsetMerge(shared, build("a-more", 5_000, "a"));
const b = orsetMerge(shared, build("b", 5_000, "b"));

// Delta size after 100 changes on a 10,000-element set.
{
  let state = build("a", 10_000);
  const deltas: OrSet[] = [];
  for (let i = 0; i < 100; i++) {
    const m = i % 2 === 0 ? orsetAdd(state, "a", `new-${i}`) : orsetRemove(state, `element-${i}`);
    state = m.state;
    deltas.push(m.delta);
  }
  const full = JSON.stringify(orsetToWire(state)).length;
  const delta = JSON.stringify(orsetToWire(deltas.reduce(orsetJoinDeltas))).length;
  const ratio = delta / full;
  const line =
    `delta after 100 changes on a 10,000-element set: ${delta} B; full state: ${full} B; ` +
    `${(ratio * 100).toFixed(2)}% (target ≤ 5%)`;
  console.log(line);
  await writeResult(
    "crdt_delta_size",
    { fullBytes: full, deltaBytes: delta, ratio },
    `# OR-Set delta size\n\n${line}`,
  );
}

function makeStore(kv: Deno.Kv): CrdtStore {
  return new CrdtStore({
    kv,
    clock: new ManualClock(),
    identity: { replica: "bench-1", kvId: "000000000000" },
    limits: { maxStep: 1_000_000, maxSetElements: 10_000_000, maxRegisterBytes: 16_384 },
    logRetentionMs: 3_600_000,
    maxClockDriftMs: 60_000,
    metrics: new MetricsRegistry(),
    log: silentLogger,
  });
}

const kv = await Deno.openKv(":memory:");
const store = makeStore(kv);
let i = 0;
let sink: unknown;

Deno.bench(
  "G-Counter increment + persist (KV sum)",
  { group: "counter", baseline: true },
  async () => {
    sink = await store.increment("g", 1);
  },
);
Deno.bench("PN-Counter increment/decrement + persist", { group: "counter" }, async () => {
  sink = await (i++ % 2 ? store.decrement("pn", 1) : store.increment("pn", 2));
});
Deno.bench("G-Counter increment (pure)", { group: "counter" }, () => {
  sink = gcounterIncrement(EMPTY_GCOUNTER, "a", 1);
});

Deno.bench(
  "OR-Set add + persist (KV, CAS on the set head)",
  { group: "orset", baseline: true },
  async () => {
    sink = await store.add("s", `e-${i++}`);
  },
);
Deno.bench("OR-Set add (pure, one-element fragment)", { group: "orset" }, () => {
  sink = orsetAdd({ entries: new Map(), context: a.context }, "a", `e-${i++}`);
});

Deno.bench("OR-Set merge of two 10,000-element replicas", { group: "merge" }, () => {
  sink = orsetMerge(a, b);
});
Deno.bench("OR-Set wire encode 10,000 elements", { group: "merge" }, () => {
  sink = JSON.stringify(orsetToWire(a));
});

globalThis.addEventListener("unload", () => {
  void sink;
  kv.close();
});

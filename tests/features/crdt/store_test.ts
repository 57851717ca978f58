import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { orsetJoinDeltas } from "../../../lib/features/crdt/orset.ts";
import { pncounterValue } from "../../../lib/features/crdt/pncounter.ts";
import { CrdtLimitError } from "../../../lib/features/crdt/store_context.ts";
import { setElementKey } from "../../../lib/features/crdt/keys.ts";
import { MetricsRegistry } from "../../../lib/core/metrics.ts";
import { orsetElements, orsetEquals } from "./_sets.ts";
import { makeStore } from "./_store.ts";

Deno.test("CrdtStore.increment() never loses a concurrent increment", async () => {
  using kv = await Deno.openKv(":memory:");
  // Four isolates of one node (same replica) and two other nodes sharing the database.
  const stores = [
    makeStore(kv, "us-east-1"),
    makeStore(kv, "us-east-1"),
    makeStore(kv, "us-east-1"),
    makeStore(kv, "us-east-1"),
    makeStore(kv, "eu-west-1"),
    makeStore(kv, "ap-1"),
  ];
  let expected = 0;
  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < 300; i++) {
    const store = stores[i % stores.length];
    const by = (i % 7) + 1;
    if (i % 5 === 4) {
      ops.push(store.decrement("hits", by));
      expected -= by;
    } else {
      ops.push(store.increment("hits", by));
      expected += by;
    }
  }
  await Promise.all(ops);
  const state = await stores[0].counter("hits");
  assert.equal(pncounterValue(state), expected);
  assert.deepEqual([...state.p.counts.keys()].sort(), ["ap-1", "eu-west-1", "us-east-1"]);
});

Deno.test("CrdtStore.mergeCounter() takes the maximum per slot and is idempotent", async (t) => {
  using kvA = await Deno.openKv(":memory:");
  using kvB = await Deno.openKv(":memory:");
  const a = makeStore(kvA, "a");
  const b = makeStore(kvB, "b");
  await a.increment("c", 5);
  await b.increment("c", 3);
  await b.decrement("c", 1);
  await t.step("merging b into a sums both replicas", async () => {
    assert.equal(await a.mergeCounter("c", await b.counter("c")), true);
    assert.equal(pncounterValue(await a.counter("c")), 7);
  });
  await t.step("merging the same state again changes nothing", async () => {
    assert.equal(await a.mergeCounter("c", await b.counter("c")), false);
    assert.equal(pncounterValue(await a.counter("c")), 7);
  });
  await t.step("an old state of b never lowers a's copy of b's slot", async () => {
    const old = await b.counter("c");
    await b.increment("c", 10);
    await a.mergeCounter("c", await b.counter("c"));
    await a.mergeCounter("c", old);
    assert.equal(pncounterValue(await a.counter("c")), 17);
  });
});

Deno.test("CrdtStore.add() and remove() keep one KV key per element and log deltas", async (t) => {
  using kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(1000);
  const s = makeStore(kv, "a", { clock });
  await t.step("add, re-add and remove answer whether anything changed", async () => {
    assert.equal(await s.add("tags", "red"), true);
    assert.equal(await s.add("tags", "red"), false);
    assert.equal(await s.add("tags", "blue"), true);
    assert.equal(await s.remove("tags", "red"), true);
    assert.equal(await s.remove("tags", "red"), false);
    assert.deepEqual(await s.elements("tags"), ["blue"]);
    assert.equal((await kv.get(setElementKey("tags", "red"))).value, null);
  });
  await t.step("the log holds one delta per change; joined they rebuild the state", async () => {
    const log = await Array.fromAsync(s.log(0));
    assert.deepEqual(log.map((e) => e.type), ["set", "set", "set", "set"]);
    const joined = log.map((e) => e.delta!).reduce(orsetJoinDeltas);
    assert.deepEqual(orsetElements(joined), ["blue"]);
    assert.ok(orsetEquals(joined, await s.set("tags")));
  });
  await t.step("the log is trimmed after its retention", async () => {
    clock.advance(3_600_001);
    assert.equal(await s.trimLog(), 4);
    assert.equal((await Array.fromAsync(s.log(0))).length, 0);
  });
});

Deno.test("CrdtStore.add() from several isolates at once loses no element", async () => {
  using kv = await Deno.openKv(":memory:");
  const stores = [makeStore(kv, "n1"), makeStore(kv, "n1"), makeStore(kv, "n2")];
  await Promise.all(
    Array.from({ length: 60 }, (_, i) => stores[i % 3].add("s", `e${i}`)),
  );
  const elements = await stores[0].elements("s");
  assert.equal(elements.length, 60);
  const state = await stores[0].set("s");
  // Every dot is unique even though two stores mint for the same replica.
  const dots = [...state.entries.values()].flat().map((d) => `${d.replica}:${d.counter}`);
  assert.equal(new Set(dots).size, 60);
});

Deno.test("CrdtStore.add() refuses to grow a set past its limit", async () => {
  using kv = await Deno.openKv(":memory:");
  const s = makeStore(kv, "a", { maxSetElements: 2 });
  await s.add("s", "x");
  await s.add("s", "y");
  await assert.rejects(() => s.add("s", "z"), CrdtLimitError);
  assert.equal(await s.add("s", "x"), false, "re-adding an element is allowed");
  await s.remove("s", "x");
  assert.equal(await s.add("s", "z"), true);
});

Deno.test("CrdtStore.mergeSetDelta() applies removes and keeps concurrent adds", async () => {
  using kvA = await Deno.openKv(":memory:");
  using kvB = await Deno.openKv(":memory:");
  const a = makeStore(kvA, "a");
  const b = makeStore(kvB, "b");
  await a.add("s", "x");
  await a.add("s", "y");
  // b receives a's state, then a removes x while b re-adds x concurrently.
  for await (const chunk of a.setChunks("s", 1 << 20)) await b.mergeSetChunk("s", chunk);
  await a.remove("s", "x");
  await a.remove("s", "y");
  await b.add("s", "x");
  const deltas = (await Array.fromAsync(a.log(0))).map((e) => e.delta!);
  for (const d of [...deltas, ...deltas]) await b.mergeSetDelta("s", d);
  assert.deepEqual(await b.elements("s"), ["x"]);
  for (const d of (await Array.fromAsync(b.log(0))).map((e) => e.delta!)) {
    await a.mergeSetDelta("s", d);
  }
  assert.deepEqual(await a.elements("s"), ["x"]);
  assert.ok(orsetEquals(await a.set("s"), await b.set("s")));
});

Deno.test("CrdtStore.setChunks() splits a large set; merging the chunks equals the state", async (t) => {
  using kvA = await Deno.openKv(":memory:");
  using kvB = await Deno.openKv(":memory:");
  const a = makeStore(kvA, "a");
  const b = makeStore(kvB, "b");
  for (let i = 0; i < 1200; i++) await a.add("big", `element-${String(i).padStart(5, "0")}`);
  for (let i = 0; i < 1200; i += 3) await a.remove("big", `element-${String(i).padStart(5, "0")}`);
  // b holds an element a never saw.
  await b.add("big", "b-only");
  await t.step("chunks cover every element once", async () => {
    const chunks = [];
    for await (const c of a.setChunks("big", 4096)) chunks.push(c);
    assert.ok(chunks.length > 5, `${chunks.length} chunks`);
    assert.equal(chunks.filter((c) => c.final).length, 1);
    const count = chunks.reduce((n, c) => n + c.state.entries.size, 0);
    assert.equal(count, 800);
    for (const c of chunks) await b.mergeSetChunk("big", c);
  });
  await t.step("the receiver ends with the union", async () => {
    const elements = await b.elements("big");
    assert.equal(elements.length, 801);
    assert.ok(elements.includes("b-only"));
    assert.ok(!elements.includes("element-00000"));
  });
  await t.step("merging the chunks again changes nothing", async () => {
    for await (const c of a.setChunks("big", 4096)) {
      assert.equal(await b.mergeSetChunk("big", c), false);
    }
  });
});

Deno.test("CrdtStore.write() orders writes by hybrid time; mergeRegister() keeps the later", async () => {
  using kvA = await Deno.openKv(":memory:");
  using kvB = await Deno.openKv(":memory:");
  const clockA = new ManualClock(10_000);
  const clockB = new ManualClock(5_000); // b's clock is 5 s behind
  const a = makeStore(kvA, "a", { clock: clockA });
  const b = makeStore(kvB, "b", { clock: clockB });
  const first = await a.write("color", "red");
  // b sees a's write, then writes: its write must win although its clock is behind.
  assert.equal(await b.mergeRegister("color", first), true);
  const second = await b.write("color", "blue");
  assert.ok(second.ts.wall >= first.ts.wall);
  assert.equal(await a.mergeRegister("color", second), true);
  assert.equal((await a.register("color"))?.value, "blue");
  assert.equal(await a.mergeRegister("color", first), false);
  assert.equal((await a.register("color"))?.value, "blue");
});

Deno.test("CrdtStore.add() from racing isolates counts each operation once", async () => {
  using kv = await Deno.openKv(":memory:");
  const metrics = new MetricsRegistry();
  const stores = [0, 1, 2, 3].map(() => makeStore(kv, "n", { metrics }));
  await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 4].add("s", `e${i % 10}`)));
  assert.equal((await stores[0].elements("s")).length, 10);
  const ops = metrics.counter("outpost_crdt_ops_total", "").get({ type: "set", op: "add" });
  assert.equal(ops, 40);
});

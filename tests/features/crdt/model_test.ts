/**
 * Model-based test of the whole replication path: three nodes (own KV each) take random
 * counter, set and register operations and run sync rounds to random peers whose requests are
 * delivered, dropped, duplicated, delivered with the acknowledgement lost, or held back and
 * delivered later out of order. A plain model (explicit tag sets, no version vectors, no KV)
 * follows the same messages; after every command the real replica must equal the model's, and
 * after a final full exchange every replica must equal what the operations alone dictate.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { makeCluster, TOKEN } from "../../_cluster.ts";
import {
  applyToModel,
  check,
  laterReg,
  type Model,
  modelElements,
  modelValue,
  newReplica,
  type Node,
  NODES,
  type Real,
} from "./_model.ts";

// Long elements and a tiny body limit, so full states travel in several range chunks and
// set deltas in several groups.
const ELEMENTS = ["w", "x", "y", "z"].map((c) => c.repeat(150));

type Cmd = fc.AsyncCommand<Model, Real>;

class SetOp implements Cmd {
  constructor(readonly node: Node, readonly add: boolean, readonly element: string) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.cluster.clock.advance(1);
    const rep = m.replicas[this.node];
    const killed = [...rep.live].filter(([, e]) => e === this.element).map(([t]) => t);
    for (const t of killed) {
      rep.live.delete(t);
      m.kills.add(t);
    }
    if (this.add) {
      let max = 0;
      for (const t of rep.seen) {
        const [rid, n] = t.split(":");
        if (rid === this.node) max = Math.max(max, Number(n));
      }
      const tag = `${this.node}:${max + 1}`;
      rep.live.set(tag, this.element);
      rep.seen.add(tag);
      m.adds.set(tag, this.element);
    }
    const store = await r.cluster.node(this.node).edge.data.crdt();
    await (this.add ? store.add("s", this.element) : store.remove("s", this.element));
    await check(m, r, this.node);
  }
  toString = () => `${this.node}.${this.add ? "add" : "remove"}(${this.element[0]})`;
}

class CounterOp implements Cmd {
  constructor(readonly node: Node, readonly up: boolean, readonly by: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.cluster.clock.advance(1);
    const slots = m.replicas[this.node].slots[this.up ? "p" : "n"];
    slots.set(this.node, (slots.get(this.node) ?? 0) + this.by);
    m.total += this.up ? this.by : -this.by;
    const store = await r.cluster.node(this.node).edge.data.crdt();
    await (this.up ? store.increment("k", this.by) : store.decrement("k", this.by));
    await check(m, r, this.node);
  }
  toString = () => `${this.node}.${this.up ? "inc" : "dec"}(${this.by})`;
}

class WriteOp implements Cmd {
  constructor(readonly node: Node, readonly value: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.cluster.clock.advance(1);
    const store = await r.cluster.node(this.node).edge.data.crdt();
    const reg = await store.write("r", this.value);
    // Every node shares one clock that moved forward, so hybrid time is command order.
    assert.equal(reg.ts.wall, r.cluster.clock.now());
    m.replicas[this.node].register = { ...reg.ts, value: this.value };
    m.ownWrites[this.node] = { ...reg.ts, value: this.value };
    m.lastWrite = this.value;
    await check(m, r, this.node);
  }
  toString = () => `${this.node}.write(${this.value})`;
}

class Wait implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  run(_m: Model, r: Real): Promise<void> {
    r.cluster.clock.advance(this.ms);
    return Promise.resolve();
  }
  toString = () => `wait(${this.ms})`;
}

type Fate = "ok" | "drop" | "lostAck" | "dup" | "delay";

class Send implements Cmd {
  constructor(
    readonly from: Node,
    readonly to: Node,
    readonly fate: Fate,
    readonly full = false,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.cluster.hook = async (msg, deliver) => {
      const target = msg.to as Node;
      if (this.fate === "drop") throw new TypeError("dropped");
      if (this.fate === "delay") {
        m.parked.push({ to: target, body: msg.body });
        throw new TypeError("timed out (delivered later)");
      }
      const res = await deliver(msg.body);
      assert.equal(res.status, 200, await res.clone().text());
      applyToModel(m.replicas[target], msg.body);
      if (this.fate === "dup") {
        await res.body?.cancel();
        const again = await deliver(msg.body);
        assert.equal(again.status, 200);
        applyToModel(m.replicas[target], msg.body);
        return again;
      }
      if (this.fate === "lostAck") {
        await res.body?.cancel();
        throw new TypeError("connection reset");
      }
      return res;
    };
    try {
      await r.cluster.node(this.from).edge.data.sync!.syncPeer(`http://${this.to}.test`, {
        full: this.full,
      });
    } catch (error) {
      if (this.fate === "ok" || this.fate === "dup") throw error;
    } finally {
      r.cluster.hook = null;
    }
    await check(m, r, this.to);
    if (this.fate === "ok" || this.fate === "dup") {
      // A completed round delivers everything the sender did itself before it.
      const from = m.replicas[this.from];
      const to = m.replicas[this.to];
      for (const half of ["p", "n"] as const) {
        assert.equal(to.slots[half].get(this.from), from.slots[half].get(this.from), "own slot");
      }
      for (const tag of m.adds.keys()) {
        if (tag.startsWith(`${this.from}:`)) assert.ok(to.seen.has(tag), `own add ${tag}`);
      }
      const own = m.ownWrites[this.from];
      if (own) assert.ok(!laterReg(to.register, own), "own register write");
    }
  }
  toString = () => `sync(${this.from}→${this.to}, ${this.fate})`;
}

class DeliverLate implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.parked.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const [msg] = m.parked.splice(this.index % m.parked.length, 1);
    const res = await r.cluster.call(msg.to, "/_edge/sync", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: msg.body,
    });
    assert.equal(res.status, 200, await res.text());
    applyToModel(m.replicas[msg.to], msg.body);
    await check(m, r, msg.to);
  }
  toString = () => `deliverLate(${this.index})`;
}

const node = fc.constantFrom(...NODES);
const commands = fc.commands<Model, Real, false>([
  fc.tuple(node, fc.boolean(), fc.constantFrom(...ELEMENTS)).map(([n, add, e]) =>
    new SetOp(n, add, e)
  ),
  fc.tuple(node, fc.constantFrom(...ELEMENTS)).map(([n, e]) => new SetOp(n, true, e)),
  fc.tuple(node, fc.boolean(), fc.integer({ min: 1, max: 9 })).map(([n, up, by]) =>
    new CounterOp(n, up, by)
  ),
  fc.tuple(node, fc.nat(999)).map(([n, v]) => new WriteOp(n, v)),
  fc.tuple(node, node, fc.constantFrom<Fate>("ok", "ok", "ok", "drop", "lostAck", "dup", "delay"))
    .filter(([a, b]) => a !== b)
    .map(([a, b, fate]) => new Send(a, b, fate)),
  fc.tuple(node, node, fc.constantFrom<Fate>("ok", "ok", "ok", "drop", "lostAck", "dup", "delay"))
    .filter(([a, b]) => a !== b)
    .map(([a, b, fate]) => new Send(a, b, fate)),
  fc.nat(20).map((i) => new DeliverLate(i)),
  fc.constantFrom(10, 6_000, 301_000).map((ms) => new Wait(ms)),
], { maxCommands: 60, size: "max" });

Deno.test("replicas with random ops, sync order, duplicated, dropped and late messages converge to the model", async () => {
  await fc.assert(
    fc.asyncProperty(commands, async (cmds) => {
      await using cluster = await makeCluster([...NODES], { sync: { maxBodyBytes: 4096 } });
      const model: Model = {
        replicas: { a: newReplica(), b: newReplica(), c: newReplica() },
        adds: new Map(),
        kills: new Set(),
        total: 0,
        lastWrite: undefined,
        ownWrites: {},
        parked: [],
      };
      const real: Real = { cluster };
      await fc.asyncModelRun(() => ({ model, real }), cmds);
      // Final full exchange, every ordered pair, nothing lost.
      for (const from of NODES) {
        for (const to of NODES) {
          if (from === to) continue;
          await new Send(from, to, "ok", true).run(model, real);
        }
      }
      const expected = [
        ...new Set(
          [...model.adds].filter(([tag]) => !model.kills.has(tag)).map(([, e]) => e),
        ),
      ].sort();
      for (const n of NODES) {
        await check(model, real, n);
        const store = await cluster.node(n).edge.data.crdt();
        assert.deepEqual(await store.elements("s"), expected, `elements at ${n}`);
        assert.deepEqual(modelElements(model.replicas[n]), expected);
        assert.equal(modelValue(model.replicas[n]), model.total);
        assert.equal((await store.register("r"))?.value, model.lastWrite);
      }
    }),
    { numRuns: 40 },
  );
});

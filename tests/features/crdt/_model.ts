/**
 * The model for tests/features/crdt/model_test.ts: each replica as explicit sets of tags (every dot seen,
 * the live ones with their element), counter slots and a register, updated from the very
 * payloads the real nodes exchange by the OR-Set rules written out plainly, without version
 * vectors, clouds, chunk batching or KV.
 */

import assert from "node:assert/strict";
import type { OrSet } from "../../../lib/features/crdt/orset.ts";
import { compareCodePoints } from "../../../lib/features/crdt/sync/protocol.ts";
import type { Cluster } from "../../_cluster.ts";

export const NODES = ["a", "b", "c"] as const;
export type Node = typeof NODES[number];

export interface Reg {
  wall: number;
  logical: number;
  replica: string;
  value: unknown;
}

/** One replica as the model sees it. */
export interface ModelReplica {
  seen: Set<string>;
  live: Map<string, string>;
  slots: { p: Map<string, number>; n: Map<string, number> };
  register: Reg | null;
}

export interface Model {
  replicas: Record<Node, ModelReplica>;
  /** Every add ever made (tag → element) and every tag any operation superseded. */
  adds: Map<string, string>;
  kills: Set<string>;
  total: number;
  lastWrite: unknown;
  /** Each node's own latest register write. */
  ownWrites: Partial<Record<Node, Reg>>;
  parked: { to: Node; body: string }[];
}

export interface Real {
  cluster: Cluster;
}

export function newReplica(): ModelReplica {
  return {
    seen: new Set(),
    live: new Map(),
    slots: { p: new Map(), n: new Map() },
    register: null,
  };
}

function tagsOf(ctx: { vv: Record<string, number>; cloud: [string, number][] }): Set<string> {
  const out = new Set<string>();
  for (const [r, n] of Object.entries(ctx.vv)) for (let i = 1; i <= n; i++) out.add(`${r}:${i}`);
  for (const [r, n] of ctx.cloud) out.add(`${r}:${n}`);
  return out;
}

export function laterReg(a: Reg | null, b: Reg): boolean {
  if (!a) return true;
  return b.wall !== a.wall
    ? b.wall > a.wall
    : b.logical !== a.logical
    ? b.logical > a.logical
    : b.replica > a.replica;
}

type WireObject = {
  type: string;
  state: Record<string, unknown>;
  range?: { from: string | null; to: string | null; final: boolean };
};

/** Applies a delivered payload to the model replica, by the OR-Set rules on explicit sets. */
export function applyToModel(rep: ModelReplica, body: string): void {
  const payload = JSON.parse(body) as { objects: WireObject[] };
  for (const o of payload.objects) {
    if (o.type === "counter") {
      for (const half of ["p", "n"] as const) {
        for (const [r, n] of Object.entries(o.state[half] as Record<string, number>)) {
          rep.slots[half].set(r, Math.max(rep.slots[half].get(r) ?? 0, n));
        }
      }
    } else if (o.type === "register") {
      const ts = o.state.ts as Omit<Reg, "value">;
      const reg = { ...ts, value: o.state.value };
      if (laterReg(rep.register, reg)) rep.register = reg;
    } else {
      const entries = o.state.entries as [string, [string, number][]][];
      const dLive = new Map<string, string>();
      for (const [e, dots] of entries) for (const [r, n] of dots) dLive.set(`${r}:${n}`, e);
      const dSeen = tagsOf(o.state.context as never);
      const named = new Set(entries.map(([e]) => e));
      const range = o.range;
      const inScope = (e: string) =>
        range
          ? (range.from === null || compareCodePoints(e, range.from) >= 0) &&
            (range.to === null || compareCodePoints(e, range.to) < 0)
          : named.has(e);
      for (const [tag, e] of [...rep.live]) {
        if (inScope(e) && !dLive.has(tag) && dSeen.has(tag)) rep.live.delete(tag);
      }
      for (const [tag, e] of dLive) if (!rep.seen.has(tag)) rep.live.set(tag, e);
      const grow = !range || range.final ? dSeen : new Set(dLive.keys());
      for (const tag of grow) rep.seen.add(tag);
      for (const tag of dLive.keys()) rep.seen.add(tag);
    }
  }
}

export function modelElements(rep: ModelReplica): string[] {
  return [...new Set(rep.live.values())].sort();
}

export function modelValue(rep: ModelReplica): number {
  let v = 0;
  for (const n of rep.slots.p.values()) v += n;
  for (const n of rep.slots.n.values()) v -= n;
  return v;
}

/** Compares a real node with its model replica, exactly: live tags, seen tags, slots, register. */
export async function check(m: Model, r: Real, node: Node): Promise<void> {
  const store = await r.cluster.node(node).edge.data.crdt();
  const rep = m.replicas[node];
  const set: OrSet = await store.set("s");
  const live = new Map<string, string>();
  for (const [e, dots] of set.entries) {
    for (const d of dots) live.set(`${d.replica}:${d.counter}`, e);
  }
  assert.deepEqual(live, rep.live, `live tags at ${node}`);
  const seen = new Set<string>();
  for (const [rid, n] of set.context.vv) for (let i = 1; i <= n; i++) seen.add(`${rid}:${i}`);
  for (const [rid, cs] of set.context.cloud) for (const c of cs) seen.add(`${rid}:${c}`);
  assert.deepEqual(seen, rep.seen, `seen tags at ${node}`);
  const counter = await store.counter("k");
  assert.deepEqual(counter.p.counts, rep.slots.p, `p slots at ${node}`);
  assert.deepEqual(counter.n.counts, rep.slots.n, `n slots at ${node}`);
  assert.equal((await store.register("r"))?.value, rep.register?.value, `register at ${node}`);
}

/**
 * CRDT convergence under a partition: one edge is cut off from every other node, users in every
 * city increment a counter and add to a set through their edge (the cut-off one keeps
 * taking its users' writes), the partition heals, and the simulator times how long until every
 * node holds the same counter value and set, equal to what was written.
 */

import { mintToken } from "../token.ts";
import { bodyText, SimClient } from "./http_client.ts";
import type { City } from "./latency.ts";
import { Progress } from "./progress.ts";
import { geoHeaders, slug } from "./scenario_latency.ts";
import { type NodeSettings, SECRETS, type Topology } from "./topology.ts";

/** Options for {@linkcode runCrdt}. */
export interface CrdtOptions {
  cities: readonly City[];
  /** The region cut off from the others. */
  partition: string;
  /** How long the partition goes on after the last write (the writes happen inside it). */
  holdMs: number;
  /** Increments and set adds per city. */
  writesPerCity: number;
  /** Give up waiting for agreement after this long past the heal. */
  timeoutMs: number;
  settings: NodeSettings;
  nonce: string;
}

/** One node's state at a moment. */
export interface NodeState {
  node: string;
  value: number;
  elements: number;
}

/** The scenario's results. */
export interface CrdtResult {
  partitioned: string;
  /** How long the node was cut off in all (writes, then the hold). */
  partitionMs: number;
  counter: string;
  set: string;
  writes: {
    increments: number;
    total: number;
    adds: number;
    distinctElements: number;
    /** Writes (increments + adds) accepted by each node. */
    byNode: Record<string, number>;
  };
  /** Each node's state just before the heal. */
  beforeHeal: NodeState[];
  /** The cut-off node held exactly its own users' writes, and nothing else, before the heal. */
  isolated: boolean;
  /** From the last write until the connected nodes agreed among themselves (null: not in time). */
  majorityAgreedMs: number | null;
  /** From the heal until every node held the full state (null: not within the timeout). */
  convergedMs: number | null;
  /** From the heal until each node held the full state. */
  perNodeMs: Record<string, number | null>;
  converged: boolean;
  settings: NodeSettings;
  errors: string[];
}

interface Snapshot {
  value: number;
  elements: string[];
}

async function readJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
  return body;
}

async function readState(url: string, counter: string, set: string): Promise<Snapshot> {
  const [c, s] = await Promise.all([
    readJson(`${url}/crdt/counters/${counter}`),
    readJson(`${url}/crdt/sets/${set}`),
  ]);
  return { value: Number(c.value), elements: [...(s.elements as string[])].sort() };
}

function same(a: Snapshot, value: number, elements: readonly string[]): boolean {
  return a.value === value && a.elements.length === elements.length &&
    a.elements.every((e, i) => e === elements[i]);
}

/** Runs the scenario. */
export async function runCrdt(topo: Topology, o: CrdtOptions): Promise<CrdtResult> {
  const counter = `sim-visits-${o.nonce}`;
  const set = `sim-seen-${o.nonce}`;
  const progress = new Progress("crdt", o.cities.length * o.writesPerCity * 2 + 2);
  const errors: string[] = [];
  const cutNode = topo.edges.find((e) => e.region === o.partition);
  if (!cutNode) throw new Error(`Unknown region to partition: ${o.partition}`);
  const local = new Map(
    topo.edges.map((e) => [e.region, { total: 0, elements: new Set<string>() }]),
  );
  const byNode: Record<string, number> = Object.fromEntries(topo.edges.map((e) => [e.region, 0]));

  const cutAt = performance.now();
  const partition = topo.partition(o.partition);
  progress.tick(1, `${o.partition} cut off`);
  await Promise.all(o.cities.map(async (city) => {
    const edge = topo.edgeFor(city);
    const port = edge.fromCity.get(city.name)!.port;
    const s = slug(city.name);
    const token = await mintToken({ sub: `sim-${s}`, roles: ["editor"], ttlS: 3600 }, SECRETS.jwt);
    const headers = {
      ...geoHeaders(city),
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
    };
    const client = new SimClient();
    const mine = local.get(edge.region)!;
    for (let i = 0; i < o.writesPerCity; i++) {
      const by = (i % 5) + 1;
      const element = i % 4 === 0 ? `shared-${i % 8}` : `${s}-${i}`;
      const writes = [
        [`/crdt/counters/${counter}/increment`, { by }],
        [`/crdt/sets/${set}/add`, { element }],
      ] as const;
      await Promise.all(writes.map(async ([path, body]) => {
        try {
          const res = await client.request(port, {
            method: "POST",
            path,
            headers,
            body: JSON.stringify(body),
          });
          if (res.status !== 200) {
            throw new Error(`${path}: ${res.status} ${bodyText(res).slice(0, 200)}`);
          }
          if ("by" in body) mine.total += body.by;
          else mine.elements.add(body.element);
          byNode[edge.region]++;
        } catch (error) {
          if (errors.length < 20) errors.push(`${city.name}: ${(error as Error).message}`);
        }
        progress.tick(1, `${city.name} writes to ${edge.region}`);
      }));
    }
  }));
  const wroteAt = performance.now();

  const total = [...local.values()].reduce((n, l) => n + l.total, 0);
  const all = [...new Set([...local.values()].flatMap((l) => [...l.elements]))].sort();
  const others = topo.edges.filter((e) => e.region !== o.partition);
  const majorityTotal = others.reduce((n, e) => n + local.get(e.region)!.total, 0);
  const majorityElements = [...new Set(others.flatMap((e) => [...local.get(e.region)!.elements]))]
    .sort();

  // While cut: the others should agree among themselves.
  let majorityAgreedMs: number | null = null;
  while (performance.now() - wroteAt < o.holdMs) {
    if (majorityAgreedMs === null) {
      const states = await Promise.all(others.map((e) => readState(e.url, counter, set)));
      if (states.every((st) => same(st, majorityTotal, majorityElements))) {
        majorityAgreedMs = Math.round(performance.now() - wroteAt);
        progress.note(`others agreed in ${majorityAgreedMs} ms; waiting for the heal`);
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const beforeHeal = await Promise.all(topo.edges.map(async (e) => {
    const st = await readState(e.url, counter, set);
    return { node: e.region, value: st.value, elements: st.elements.length, snapshot: st };
  }));
  const cutState = beforeHeal.find((b) => b.node === o.partition)!.snapshot;
  const mineCut = local.get(o.partition)!;
  const isolated = same(cutState, mineCut.total, [...mineCut.elements].sort());

  partition.heal();
  const healedAt = performance.now();
  const partitionMs = Math.round(healedAt - cutAt);
  progress.tick(1, "healed; waiting for every node to agree");
  const perNodeMs: Record<string, number | null> = Object.fromEntries(
    topo.edges.map((e) => [e.region, null]),
  );
  while (performance.now() - healedAt < o.timeoutMs) {
    const pending = topo.edges.filter((e) => perNodeMs[e.region] === null);
    if (pending.length === 0) break;
    await Promise.all(pending.map(async (e) => {
      const st = await readState(e.url, counter, set);
      if (same(st, total, all)) perNodeMs[e.region] = Math.round(performance.now() - healedAt);
    }));
    await new Promise((r) => setTimeout(r, 25));
  }
  const times = Object.values(perNodeMs);
  const converged = times.every((t) => t !== null);
  const convergedMs = converged ? Math.max(...(times as number[])) : null;
  progress.done(
    converged
      ? `all ${topo.edges.length} nodes agreed ${convergedMs} ms after the heal`
      : "NOT converged",
  );
  return {
    partitioned: o.partition,
    partitionMs,
    counter,
    set,
    writes: {
      increments: o.cities.length * o.writesPerCity,
      total,
      adds: o.cities.length * o.writesPerCity,
      distinctElements: all.length,
      byNode,
    },
    beforeHeal: beforeHeal.map(({ node, value, elements }) => ({ node, value, elements })),
    isolated,
    majorityAgreedMs,
    convergedMs,
    perNodeMs,
    converged,
    settings: o.settings,
    errors,
  };
}

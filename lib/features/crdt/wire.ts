/**
 * The versioned JSON wire format of every CRDT, used by the sync protocol and by KV values.
 * Each schema validates structure and the CRDT's invariants (no duplicate element, at most one
 * dot per replica per element, every live dot inside the context) and yields the pure value;
 * anything else is rejected, so a forged payload never reaches a merge.
 */

import { z } from "zod";
import {
  type CausalContext,
  cloudDots,
  compareDots,
  contextFromDots,
  contextHas,
  type Dot,
  mergeContexts,
  type ReplicaId,
} from "./dots.ts";
import type { HlcTimestamp } from "./hlc.ts";
import type { LwwRegister } from "./lww.ts";
import { CountSchema, ElementSchema, MAX_REPLICAS, ReplicaIdSchema } from "./names.ts";
import type { OrSet } from "./orset.ts";
import type { PNCounter } from "./pncounter.ts";

/** The wire format's version; bumped on any incompatible change. */
export const WIRE_VERSION = 1;

const VersionSchema = z.literal(WIRE_VERSION, {
  error: (issue) => `Unsupported wire version: ${JSON.stringify(issue.input)}`,
});

// zod's record silently drops a `__proto__` key; a payload carrying one is refused instead.
const NoProtoKey = z.custom<unknown>(
  (v) => !(typeof v === "object" && v !== null && Object.hasOwn(v, "__proto__")),
  { message: "Invalid key: __proto__" },
);

/** Per-replica counts: `{ "<replica>": <non-negative safe integer> }`. */
const CountsSchema = NoProtoKey.pipe(z.record(ReplicaIdSchema, CountSchema)).refine(
  (counts) => Object.keys(counts).length <= MAX_REPLICAS,
  { message: `At most ${MAX_REPLICAS} replicas` },
);

/** A dot on the wire: `[replica, counter]` with counter ≥ 1. */
export const DotSchema = z.tuple([
  ReplicaIdSchema,
  z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
]);

type WireCounts = Record<ReplicaId, number>;
type WireDot = [ReplicaId, number];

function countsToMap(counts: WireCounts): Map<ReplicaId, number> {
  const map = new Map<ReplicaId, number>();
  for (const r of Object.keys(counts)) if (counts[r] > 0) map.set(r, counts[r]);
  return map;
}

function mapToCounts(map: ReadonlyMap<ReplicaId, number>): WireCounts {
  const out: WireCounts = {};
  for (const r of [...map.keys()].sort()) out[r] = map.get(r)!;
  return out;
}

/** `{ type: "pn-counter", v: 1, p, n }` → {@linkcode PNCounter}. */
export const PNCounterWireSchema = z.object({
  type: z.literal("pn-counter"),
  v: VersionSchema,
  p: CountsSchema,
  n: CountsSchema,
}).transform((w): PNCounter => ({
  p: { counts: countsToMap(w.p) },
  n: { counts: countsToMap(w.n) },
}));

/** A causal context on the wire: `{ vv: counts, cloud: [[replica, counter], …] }`. */
export const ContextWireSchema = z.object({
  vv: CountsSchema,
  cloud: z.array(DotSchema).max(100_000),
}).transform((w): CausalContext =>
  mergeContexts(
    { vv: countsToMap(w.vv), cloud: new Map() },
    contextFromDots(w.cloud.map(([replica, counter]) => ({ replica, counter }))),
  )
);

/** `{ type: "or-set", v: 1, entries: [[element, [dot, …]], …], context }` → {@linkcode OrSet}. */
export const OrSetWireSchema = z.object({
  type: z.literal("or-set"),
  v: VersionSchema,
  entries: z.array(z.tuple([ElementSchema, z.array(DotSchema).max(MAX_REPLICAS)])),
  context: ContextWireSchema,
}).transform((w, ctx): OrSet => {
  const entries = new Map<string, readonly Dot[]>();
  const seen = new Set<string>();
  w.entries.forEach(([element, wireDots], i) => {
    if (entries.has(element)) {
      ctx.addIssue({ code: "custom", path: ["entries", i, 0], message: "Duplicate element" });
    }
    const replicas = new Set<ReplicaId>();
    const dots: Dot[] = [];
    for (const [replica, counter] of wireDots) {
      const dot = { replica, counter };
      const id = `${replica}\u0000${counter}`;
      if (replicas.has(replica) || seen.has(id)) {
        ctx.addIssue({ code: "custom", path: ["entries", i, 1], message: "Duplicate dot" });
      } else if (!contextHas(w.context, dot)) {
        ctx.addIssue({
          code: "custom",
          path: ["entries", i, 1],
          message: `Dot not in the context: ${replica}:${counter}`,
        });
      }
      replicas.add(replica);
      seen.add(id);
      dots.push(dot);
    }
    entries.set(element, dots.length > 1 ? dots.sort(compareDots) : dots);
  });
  return { entries, context: w.context };
});

/** A hybrid logical timestamp on the wire. */
export const HlcWireSchema = z.object({
  wall: z.number().int().min(0).max(8.64e15),
  logical: z.number().int().min(0).max(2 ** 31),
  replica: ReplicaIdSchema,
});

/** `{ type: "lww-register", v: 1, value, ts }` → {@linkcode LwwRegister}. */
export const LwwWireSchema = z.object({
  type: z.literal("lww-register"),
  v: VersionSchema,
  value: z.json(),
  ts: HlcWireSchema,
}).transform((w): LwwRegister => ({ value: w.value, ts: w.ts as HlcTimestamp }));

/** Wire form of a PN-Counter. */
export function pncounterToWire(c: PNCounter): z.input<typeof PNCounterWireSchema> {
  return {
    type: "pn-counter",
    v: WIRE_VERSION,
    p: mapToCounts(c.p.counts),
    n: mapToCounts(c.n.counts),
  };
}

/** Wire form of a causal context. */
export function contextToWire(ctx: CausalContext): { vv: WireCounts; cloud: WireDot[] } {
  return {
    vv: mapToCounts(ctx.vv),
    cloud: cloudDots(ctx).sort(compareDots).map((d) => [d.replica, d.counter]),
  };
}

/** Wire form of an OR-Set (or delta); elements in sorted order. */
export function orsetToWire(s: OrSet): z.input<typeof OrSetWireSchema> {
  const elements = [...s.entries.keys()].sort();
  return {
    type: "or-set",
    v: WIRE_VERSION,
    entries: elements.map((e) => [e, s.entries.get(e)!.map((d) => [d.replica, d.counter])]),
    context: contextToWire(s.context),
  };
}

/** Wire form of an LWW-Register. */
export function lwwToWire(r: LwwRegister): z.input<typeof LwwWireSchema> {
  return {
    type: "lww-register",
    v: WIRE_VERSION,
    value: r.value as z.core.util.JSONType,
    ts: r.ts,
  };
}

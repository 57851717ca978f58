/**
 * Dots and causal contexts, the bookkeeping under the OR-Set: a dot `(replica, counter)` names
 * one add; a causal context is the set of dots a replica has seen, kept compact as a version
 * vector plus a "cloud" of dots beyond the contiguous prefix. Pure values; nothing is mutated.
 */

/** A replica's id: stable per node (see `lib/features/crdt/replica.ts`). */
export type ReplicaId = string;

/** One event: the `counter`-th dot minted by `replica` (counters start at 1). */
export interface Dot {
  readonly replica: ReplicaId;
  readonly counter: number;
}

/** The dots a replica has seen: every counter ≤ `vv[r]`, plus the extra ones in `cloud[r]`. */
export interface CausalContext {
  readonly vv: ReadonlyMap<ReplicaId, number>;
  readonly cloud: ReadonlyMap<ReplicaId, ReadonlySet<number>>;
}

const EMPTY_VV: ReadonlyMap<ReplicaId, number> = new Map();
const EMPTY_CLOUD: ReadonlyMap<ReplicaId, ReadonlySet<number>> = new Map();

/** The context that has seen nothing. */
export const EMPTY_CONTEXT: CausalContext = { vv: EMPTY_VV, cloud: EMPTY_CLOUD };

/** True when `ctx` has seen `dot`. */
export function contextHas(ctx: CausalContext, dot: Dot): boolean {
  return dot.counter <= (ctx.vv.get(dot.replica) ?? 0) ||
    (ctx.cloud.get(dot.replica)?.has(dot.counter) ?? false);
}

/** The next dot `replica` mints: above everything the context has seen from it. */
export function nextDot(ctx: CausalContext, replica: ReplicaId): Dot {
  let max = ctx.vv.get(replica) ?? 0;
  const extra = ctx.cloud.get(replica);
  if (extra) { for (const n of extra) if (n > max) max = n; }
  return { replica, counter: max + 1 };
}

/** Moves contiguous cloud dots into the version vector and drops covered ones. */
function compact(
  vv: Map<ReplicaId, number>,
  cloud: Map<ReplicaId, Set<number>>,
): CausalContext {
  for (const [replica, counters] of cloud) {
    let top = vv.get(replica) ?? 0;
    while (counters.has(top + 1)) top++;
    if (top > 0) vv.set(replica, top);
    for (const n of counters) if (n <= top) counters.delete(n);
    if (counters.size === 0) cloud.delete(replica);
  }
  return { vv, cloud };
}

/** A context holding exactly `dots` (compacted). */
export function contextFromDots(dots: Iterable<Dot>): CausalContext {
  const cloud = new Map<ReplicaId, Set<number>>();
  for (const d of dots) {
    let set = cloud.get(d.replica);
    if (!set) cloud.set(d.replica, set = new Set());
    set.add(d.counter);
  }
  return compact(new Map(), cloud);
}

/** The union of two contexts. */
export function mergeContexts(a: CausalContext, b: CausalContext): CausalContext {
  if (isEmptyContext(b)) return a;
  if (isEmptyContext(a)) return b;
  const vv = new Map(a.vv);
  for (const [r, n] of b.vv) if (n > (vv.get(r) ?? 0)) vv.set(r, n);
  const cloud = new Map<ReplicaId, Set<number>>();
  for (const source of [a.cloud, b.cloud]) {
    for (const [r, counters] of source) {
      let set = cloud.get(r);
      if (!set) cloud.set(r, set = new Set());
      for (const n of counters) set.add(n);
    }
  }
  return compact(vv, cloud);
}

/** The context plus some dots. */
export function addDots(ctx: CausalContext, dots: Iterable<Dot>): CausalContext {
  return mergeContexts(ctx, contextFromDots(dots));
}

/** True when the context has seen nothing. */
function isEmptyContext(ctx: CausalContext): boolean {
  return ctx.vv.size === 0 && ctx.cloud.size === 0;
}

/** True when both contexts hold the same dots. */
export function contextsEqual(a: CausalContext, b: CausalContext): boolean {
  if (a.vv.size !== b.vv.size || a.cloud.size !== b.cloud.size) return false;
  for (const [r, n] of a.vv) if (b.vv.get(r) !== n) return false;
  for (const [r, counters] of a.cloud) {
    const other = b.cloud.get(r);
    if (!other || other.size !== counters.size) return false;
    for (const c of counters) if (!other.has(c)) return false;
  }
  return true;
}

/** The cloud's dots as a list (for the wire format). */
export function cloudDots(ctx: CausalContext): Dot[] {
  const out: Dot[] = [];
  for (const [replica, counters] of ctx.cloud) {
    for (const counter of counters) out.push({ replica, counter });
  }
  return out;
}

/** Two dots are the same event. */
export function sameDot(a: Dot, b: Dot): boolean {
  return a.counter === b.counter && a.replica === b.replica;
}

/** A total order on dots (replica, then counter), for canonical output. */
export function compareDots(a: Dot, b: Dot): number {
  return a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : a.counter - b.counter;
}

/**
 * G-Counter: one grow-only count per replica; the value is their sum and merge takes the
 * maximum per replica. Pure: every function returns a new counter.
 */

import type { ReplicaId } from "./dots.ts";

/** A grow-only counter. */
export interface GCounter {
  readonly counts: ReadonlyMap<ReplicaId, number>;
}

/** A mutation's new state and the delta that carries it to other replicas. */
export interface Mutation<T> {
  state: T;
  delta: T;
}

/** The counter at zero. */
export const EMPTY_GCOUNTER: GCounter = { counts: new Map() };

/** Builds a counter from per-replica counts (zeros are dropped). */
export function gcounterFrom(counts: Iterable<[ReplicaId, number]>): GCounter {
  const map = new Map<ReplicaId, number>();
  for (const [r, n] of counts) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Invalid count for ${r}: ${n}`);
    if (n > 0) map.set(r, Math.max(n, map.get(r) ?? 0));
  }
  return { counts: map };
}

/** Adds `by` (a positive safe integer) to `replica`'s count. */
export function gcounterIncrement(
  counter: GCounter,
  replica: ReplicaId,
  by = 1,
): Mutation<GCounter> {
  if (!Number.isSafeInteger(by) || by <= 0) throw new RangeError(`Invalid increment: ${by}`);
  const next = (counter.counts.get(replica) ?? 0) + by;
  if (!Number.isSafeInteger(next)) throw new RangeError(`Counter overflow for ${replica}`);
  const counts = new Map(counter.counts);
  counts.set(replica, next);
  return { state: { counts }, delta: { counts: new Map([[replica, next]]) } };
}

/** The sum of every replica's count. */
export function gcounterValue(counter: GCounter): number {
  let sum = 0;
  for (const n of counter.counts.values()) sum += n;
  return sum;
}

/** Pointwise maximum: commutative, associative, idempotent. */
export function gcounterMerge(a: GCounter, b: GCounter): GCounter {
  if (b.counts.size === 0) return a;
  if (a.counts.size === 0) return b;
  const counts = new Map(a.counts);
  for (const [r, n] of b.counts) if (n > (counts.get(r) ?? 0)) counts.set(r, n);
  return { counts };
}

/** The part of `counter` that `known` lacks (merging it into `known` equals a full merge). */
export function gcounterDelta(counter: GCounter, known: GCounter): GCounter {
  const counts = new Map<ReplicaId, number>();
  for (const [r, n] of counter.counts) if (n > (known.counts.get(r) ?? 0)) counts.set(r, n);
  return { counts };
}

/** True when `a` has every count of `b` (b ≤ a in the lattice). */
export function gcounterIncludes(a: GCounter, b: GCounter): boolean {
  for (const [r, n] of b.counts) if (n > (a.counts.get(r) ?? 0)) return false;
  return true;
}

/** True when both counters hold the same counts. */
export function gcounterEquals(a: GCounter, b: GCounter): boolean {
  return a.counts.size === b.counts.size && gcounterIncludes(a, b);
}

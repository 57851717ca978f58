/**
 * G-Counter: one grow-only count per replica; the value is their sum, and replicas join by the
 * maximum per replica (counter_store.ts does that in KV with `max`). Pure: every function returns
 * a new counter.
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

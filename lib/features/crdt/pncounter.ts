/**
 * PN-Counter: two G-Counters, one for increments and one for decrements (KV's `sum` cannot
 * subtract, and a single max-merged count could not go down). Value = P − N.
 */

import type { ReplicaId } from "./dots.ts";
import {
  EMPTY_GCOUNTER,
  type GCounter,
  gcounterIncrement,
  gcounterValue,
  type Mutation,
} from "./gcounter.ts";

/** A counter that goes up and down. */
export interface PNCounter {
  readonly p: GCounter;
  readonly n: GCounter;
}

/** The counter at zero. */
export const EMPTY_PNCOUNTER: PNCounter = { p: EMPTY_GCOUNTER, n: EMPTY_GCOUNTER };

/** Adds `by` (positive) at `replica`. */
export function pncounterIncrement(
  counter: PNCounter,
  replica: ReplicaId,
  by = 1,
): Mutation<PNCounter> {
  const m = gcounterIncrement(counter.p, replica, by);
  return { state: { p: m.state, n: counter.n }, delta: { p: m.delta, n: EMPTY_GCOUNTER } };
}

/** Subtracts `by` (positive) at `replica`. */
export function pncounterDecrement(
  counter: PNCounter,
  replica: ReplicaId,
  by = 1,
): Mutation<PNCounter> {
  const m = gcounterIncrement(counter.n, replica, by);
  return { state: { p: counter.p, n: m.state }, delta: { p: EMPTY_GCOUNTER, n: m.delta } };
}

/** Increments minus decrements. */
export function pncounterValue(counter: PNCounter): number {
  return gcounterValue(counter.p) - gcounterValue(counter.n);
}

/** Each replica's increments and decrements. */
export function pncounterReplicas(counter: PNCounter): Record<ReplicaId, { p: number; n: number }> {
  const out: Record<ReplicaId, { p: number; n: number }> = {};
  const ids = new Set([...counter.p.counts.keys(), ...counter.n.counts.keys()]);
  for (const r of [...ids].sort()) {
    out[r] = { p: counter.p.counts.get(r) ?? 0, n: counter.n.counts.get(r) ?? 0 };
  }
  return out;
}

/** fast-check generators of reachable CRDT states: replicas that ran random ops (and merges). */

import fc from "fast-check";
import {
  EMPTY_ORSET,
  type OrSet,
  orsetAdd,
  orsetMerge,
  orsetRemove,
} from "../../../lib/features/crdt/orset.ts";
import {
  EMPTY_PNCOUNTER,
  type PNCounter,
  pncounterDecrement,
  pncounterIncrement,
} from "../../../lib/features/crdt/pncounter.ts";

export const REPLICAS = ["a", "b", "c"] as const;
export const ELEMENTS = ["x", "y", "z", "w"] as const;

/** One step of a history over three replicas. */
export type SetStep =
  | { op: "add"; r: number; e: string }
  | { op: "remove"; r: number; e: string }
  | { op: "merge"; r: number; from: number };

export const setStep: fc.Arbitrary<SetStep> = fc.oneof(
  fc.record({
    op: fc.constant("add" as const),
    r: fc.nat(2),
    e: fc.constantFrom(...ELEMENTS),
  }),
  fc.record({
    op: fc.constant("remove" as const),
    r: fc.nat(2),
    e: fc.constantFrom(...ELEMENTS),
  }),
  fc.record({ op: fc.constant("merge" as const), r: fc.nat(2), from: fc.nat(2) }),
);

/** Runs a history; returns the three replicas' states. */
export function runSetHistory(steps: readonly SetStep[]): OrSet[] {
  const states: OrSet[] = [EMPTY_ORSET, EMPTY_ORSET, EMPTY_ORSET];
  for (const s of steps) {
    if (s.op === "add") states[s.r] = orsetAdd(states[s.r], REPLICAS[s.r], s.e).state;
    else if (s.op === "remove") states[s.r] = orsetRemove(states[s.r], s.e).state;
    else states[s.r] = orsetMerge(states[s.r], states[s.from]);
  }
  return states;
}

/** Three related OR-Set replicas. */
export const orsetTriple: fc.Arbitrary<OrSet[]> = fc.array(setStep, { maxLength: 40 }).map(
  runSetHistory,
);

/** A PN-Counter after random increments and decrements at the three replicas. */
export const pncounter: fc.Arbitrary<PNCounter> = fc.array(
  fc.record({ up: fc.boolean(), r: fc.nat(2), by: fc.integer({ min: 1, max: 1000 }) }),
  { maxLength: 40 },
).map((steps) =>
  steps.reduce(
    (c, s) => (s.up ? pncounterIncrement : pncounterDecrement)(c, REPLICAS[s.r], s.by).state,
    EMPTY_PNCOUNTER,
  )
);

/**
 * LWW-Register: the value with the greatest hybrid logical timestamp wins; the replica id in
 * the timestamp breaks ties, and identical timestamps fall back to comparing the values, so the
 * merge is deterministic even for a forged duplicate.
 */

import type { Mutation } from "./gcounter.ts";
import { compareHlc, type HlcTimestamp } from "./hlc.ts";

/** A last-writer-wins register; `null` when never written. */
export interface LwwRegister<T = unknown> {
  readonly value: T;
  readonly ts: HlcTimestamp;
}

/** JSON with object keys sorted, so equal values serialise equally. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  return `{${
    Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")
  }}`;
}

/** Orders registers by timestamp, then by canonical value. */
function compareLww(a: LwwRegister, b: LwwRegister): number {
  const byTime = compareHlc(a.ts, b.ts);
  if (byTime !== 0) return byTime;
  const x = canonicalJson(a.value);
  const y = canonicalJson(b.value);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Writes `value` at `ts`, which must be later than the current timestamp. */
export function lwwSet<T>(
  register: LwwRegister<T> | null,
  value: T,
  ts: HlcTimestamp,
): Mutation<LwwRegister<T>> {
  if (register !== null && compareHlc(ts, register.ts) <= 0) {
    throw new RangeError("A register write needs a timestamp after the current one");
  }
  const next = { value, ts };
  return { state: next, delta: next };
}

/** The later of two registers: commutative, associative, idempotent. */
export function lwwMerge<T>(
  a: LwwRegister<T> | null,
  b: LwwRegister<T> | null,
): LwwRegister<T> | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareLww(a, b) >= 0 ? a : b;
}

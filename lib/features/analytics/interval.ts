/** Pure time arithmetic of analytics: interval starts, minute buckets, ULID bounds, back-off. */

import { encodeTime, ULID_TIME_MAX } from "../../platform/ulid.ts";

/** The start of the interval of length `lengthMs` that contains `ms`. */
export function intervalStart(ms: number, lengthMs: number): number {
  return ms - (((ms % lengthMs) + lengthMs) % lengthMs);
}

/** The start of the minute containing `ms`. */
export function minuteStart(ms: number): number {
  return intervalStart(ms, 60_000);
}

/** The smallest ULID whose time is `ms` (a range-scan bound). */
export function ulidLowerBound(ms: number): string {
  return encodeTime(Math.max(0, Math.min(ULID_TIME_MAX, Math.floor(ms))), 10) + "0".repeat(16);
}

/**
 * Exponential back-off with "equal jitter": half the delay is fixed, half random, so that many
 * senders retrying after one outage do not come back in step. `attempt` counts from 1.
 */
export function backoffMs(
  attempt: number,
  options: { baseMs: number; maxMs: number; random?: () => number },
): number {
  const exp = options.baseMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 40);
  const capped = Math.min(options.maxMs, exp);
  const random = options.random ?? Math.random;
  return Math.round(capped / 2 + (capped / 2) * random());
}

/**
 * Latency per window slot, small enough for a snapshot: each slot's histogram coarsened to 16
 * buckets per octave (percentiles within 6.25% above 256 µs, whole 8 µs steps below), so that
 * percentiles per slot and region can be merged across nodes exactly, never averaged.
 */

import { BUCKET_COUNT, bucketHigh, type LatencyHistogram } from "../../core/histogram.ts";

/** Fine buckets per coarse one: 2^3 (the fine layout has 128 buckets per octave). */
const SHIFT = 3;
/** Number of coarse buckets. */
export const COARSE_BUCKETS = BUCKET_COUNT >> SHIFT;
/** Relative error bound of a coarse percentile above 256 µs. */
export const COARSE_RELATIVE_ERROR = (1 << SHIFT) / 128;

/**
 * `h` coarsened, as `[gap, count, …]` like {@linkcode LatencyHistogram.encode}, `gap` being the
 * distance from the previous non-empty coarse bucket (the first from -1).
 */
export function coarsen(h: LatencyHistogram): number[] {
  const out: number[] = [];
  if (h.count === 0) return out;
  const fine = h.encode();
  let index = -1;
  let current = -1;
  let count = 0;
  let last = -1;
  for (let k = 0; k < fine.length; k += 2) {
    index += fine[k];
    const coarse = index >> SHIFT;
    if (coarse !== current) {
      if (count > 0) {
        out.push(current - last, count);
        last = current;
      }
      current = coarse;
      count = 0;
    }
    count += fine[k + 1];
  }
  if (count > 0) out.push(current - last, count);
  return out;
}

/** Checks an encoded coarse histogram; throws a `RangeError` when malformed. */
export function checkCoarse(encoded: readonly number[]): void {
  if (encoded.length % 2 !== 0) throw new RangeError(`Odd histogram length: ${encoded.length}`);
  let index = -1;
  for (let k = 0; k < encoded.length; k += 2) {
    const gap = encoded[k], n = encoded[k + 1];
    index += gap;
    if (!Number.isSafeInteger(gap) || gap < 1 || index >= COARSE_BUCKETS) {
      throw new RangeError(`Invalid coarse bucket: ${index}`);
    }
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Invalid bucket count: ${n}`);
  }
}

/** The highest latency (ms) a coarse bucket holds. */
function coarseHighMs(coarse: number): number {
  return bucketHigh((coarse << SHIFT) + (1 << SHIFT) - 1) / 1000;
}

/**
 * Percentiles `ps` (0–100, by nearest rank) in milliseconds over the sum of `histograms`
 * (encoded coarse, already checked); `null` for each when they hold no values.
 */
export function coarsePercentiles(
  histograms: ReadonlyArray<readonly number[]>,
  ps: readonly number[],
): Array<number | null> {
  const counts = new Map<number, number>();
  let total = 0;
  for (const encoded of histograms) {
    let index = -1;
    for (let k = 0; k < encoded.length; k += 2) {
      index += encoded[k];
      counts.set(index, (counts.get(index) ?? 0) + encoded[k + 1]);
      total += encoded[k + 1];
    }
  }
  if (total === 0) return ps.map(() => null);
  const buckets = [...counts.entries()].sort((a, b) => a[0] - b[0]);
  return ps.map((p) => {
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) / 100) * total));
    let seen = 0;
    for (const [index, n] of buckets) {
      seen += n;
      if (seen >= rank) return coarseHighMs(index);
    }
    return coarseHighMs(buckets[buckets.length - 1][0]);
  });
}

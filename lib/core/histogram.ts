/**
 * Latency histograms with HdrHistogram's log-linear layout: values are whole microseconds,
 * exact below 256 µs and within 1/128 (0.8%) above, up to 2^32 µs (71 minutes). The bucket of a
 * value is found by arithmetic (`Math.clz32`), recording never allocates, and a second level of
 * per-octave totals keeps a percentile query to ~150 steps instead of 3328.
 */

/** Sub-buckets per half octave (2^7): the precision is 1 / 128 of the value. */
const HALF_MAGNITUDE = 7;
const HALF = 1 << HALF_MAGNITUDE;
const SUB_BUCKETS = HALF * 2;
/** Buckets in total: 256 exact ones, then 128 per octave up to 2^32. */
export const BUCKET_COUNT = SUB_BUCKETS + (32 - HALF_MAGNITUDE - 1) * HALF;
/** The largest recordable value in microseconds; larger ones are clamped to it. */
export const MAX_MICROS = 0xffff_ffff;
/** Relative error bound of a reported value above 256 µs. */
export const RELATIVE_ERROR = 1 / HALF;
const GROUPS = BUCKET_COUNT >> HALF_MAGNITUDE;

/** The bucket holding `us` (whole microseconds, 0 ≤ us ≤ MAX_MICROS). */
export function bucketIndex(us: number): number {
  if (us < SUB_BUCKETS) return us;
  const shift = 31 - Math.clz32(us) - HALF_MAGNITUDE;
  return shift * HALF + (us >>> shift);
}

/** The smallest value that falls in bucket `index`. */
export function bucketLow(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const shift = (index >> HALF_MAGNITUDE) - 1;
  return ((index & (HALF - 1)) + HALF) * 2 ** shift;
}

/** The largest value that falls in bucket `index`. */
export function bucketHigh(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const shift = (index >> HALF_MAGNITUDE) - 1;
  return ((index & (HALF - 1)) + HALF + 1) * 2 ** shift - 1;
}

/** Milliseconds (fractional) to whole microseconds, clamped to the recordable range. */
export function toMicros(ms: number): number {
  const us = ms * 1000;
  return us >= MAX_MICROS ? MAX_MICROS : us > 0 ? us >>> 0 : 0;
}

/** A histogram of latencies; add, subtract and merge are exact, percentiles within 0.8%. */
export class LatencyHistogram {
  /** Count per bucket. */
  readonly counts: Float64Array = new Float64Array(BUCKET_COUNT);
  /** Count per group of 128 buckets (a half octave above 256 µs). */
  readonly groups: Float64Array = new Float64Array(GROUPS);
  /** Number of values recorded. */
  count = 0;
  /** Sum of the recorded values in microseconds (unclamped). */
  sumMicros = 0;
  /** Largest value recorded (µs, clamped); 0 when empty; after `subtract`, an upper bound. */
  maxMicros = 0;

  /** Records one latency given in milliseconds. */
  record(ms: number): void {
    const us = toMicros(ms);
    const i = bucketIndex(us);
    this.counts[i]++;
    this.groups[i >> HALF_MAGNITUDE]++;
    this.count++;
    this.sumMicros += ms > 0 ? ms * 1000 : 0;
    if (us > this.maxMicros) this.maxMicros = us;
  }

  /** Adds `n` values that fell in bucket `index` (decoding, merging). */
  addToBucket(index: number, n: number): void {
    this.counts[index] += n;
    this.groups[index >> HALF_MAGNITUDE] += n;
    this.count += n;
    const high = bucketHigh(index);
    if (n > 0 && high > this.maxMicros) this.maxMicros = high;
  }

  /** Adds every value of `other` into this one. */
  add(other: LatencyHistogram): void {
    if (other.count === 0) return;
    const a = this.counts, b = other.counts;
    for (let g = 0; g < GROUPS; g++) {
      if (other.groups[g] === 0) continue;
      this.groups[g] += other.groups[g];
      const end = (g + 1) << HALF_MAGNITUDE;
      for (let i = g << HALF_MAGNITUDE; i < end; i++) a[i] += b[i];
    }
    this.count += other.count;
    this.sumMicros += other.sumMicros;
    if (other.maxMicros > this.maxMicros) this.maxMicros = other.maxMicros;
  }

  /** Removes every value of `other` (which must have been added before). */
  subtract(other: LatencyHistogram): void {
    if (other.count === 0) return;
    const a = this.counts, b = other.counts;
    for (let g = 0; g < GROUPS; g++) {
      if (other.groups[g] === 0) continue;
      this.groups[g] -= other.groups[g];
      const end = (g + 1) << HALF_MAGNITUDE;
      for (let i = g << HALF_MAGNITUDE; i < end; i++) a[i] -= b[i];
    }
    this.count -= other.count;
    this.sumMicros -= other.sumMicros;
    if (this.count === 0) {
      this.sumMicros = 0;
      this.maxMicros = 0;
      return;
    }
    // The largest value may have left: bound the maximum by the highest non-empty bucket.
    for (let g = GROUPS - 1; g >= 0; g--) {
      if (this.groups[g] === 0) continue;
      for (let i = ((g + 1) << HALF_MAGNITUDE) - 1; i >= g << HALF_MAGNITUDE; i--) {
        if (a[i] === 0) continue;
        this.maxMicros = Math.min(this.maxMicros, bucketHigh(i));
        return;
      }
    }
  }

  /** Empties the histogram. */
  reset(): void {
    if (this.count === 0 && this.maxMicros === 0) return;
    this.counts.fill(0);
    this.groups.fill(0);
    this.count = 0;
    this.sumMicros = 0;
    this.maxMicros = 0;
  }

  /**
   * The value at percentile `p` (0–100) in milliseconds, by nearest rank: the highest value of
   * the bucket holding the ⌈p/100·n⌉-th smallest value (never more than the largest recorded).
   * `null` when empty.
   */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) / 100) * this.count));
    let seen = 0;
    for (let g = 0; g < GROUPS; g++) {
      const inGroup = this.groups[g];
      if (seen + inGroup < rank) {
        seen += inGroup;
        continue;
      }
      const end = (g + 1) << HALF_MAGNITUDE;
      for (let i = g << HALF_MAGNITUDE; i < end; i++) {
        seen += this.counts[i];
        if (seen >= rank) return Math.min(bucketHigh(i), this.maxMicros) / 1000;
      }
    }
    return this.maxMicros / 1000;
  }

  /** Mean in milliseconds, `null` when empty. */
  mean(): number | null {
    return this.count === 0 ? null : this.sumMicros / this.count / 1000;
  }

  /**
   * Values at or below `us` microseconds, counting whole buckets whose highest value is ≤ `us`
   * (Prometheus `le` buckets; a bucket straddling the bound counts in the next one).
   */
  countAtOrBelow(us: number): number {
    let n = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      if (bucketHigh(i) > us) break;
      n += this.counts[i];
    }
    return n;
  }

  /**
   * The non-empty buckets as `[gap, count, gap, count, …]`, `gap` being the distance from the
   * previous non-empty bucket (the first from -1): compact in KV and JSON.
   */
  encode(): number[] {
    const out: number[] = [];
    let last = -1;
    for (let g = 0; g < GROUPS; g++) {
      if (this.groups[g] === 0) continue;
      const end = (g + 1) << HALF_MAGNITUDE;
      for (let i = g << HALF_MAGNITUDE; i < end; i++) {
        if (this.counts[i] === 0) continue;
        out.push(i - last, this.counts[i]);
        last = i;
      }
    }
    return out;
  }

  /**
   * Adds an encoded histogram (from {@linkcode LatencyHistogram.encode}); throws a
   * `RangeError` on malformed input without changing this histogram.
   */
  addEncoded(encoded: readonly number[], sumMicros = 0, maxMicros?: number): void {
    if (encoded.length % 2 !== 0) throw new RangeError(`Odd histogram length: ${encoded.length}`);
    let index = -1;
    for (let k = 0; k < encoded.length; k += 2) {
      const gap = encoded[k], n = encoded[k + 1];
      index += gap;
      if (!Number.isSafeInteger(gap) || gap < 1 || index >= BUCKET_COUNT) {
        throw new RangeError(`Invalid histogram bucket: ${index}`);
      }
      if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Invalid bucket count: ${n}`);
    }
    if (!(Number.isFinite(sumMicros) && sumMicros >= 0)) {
      throw new RangeError(`Invalid histogram sum: ${sumMicros}`);
    }
    const before = this.maxMicros;
    index = -1;
    for (let k = 0; k < encoded.length; k += 2) {
      index += encoded[k];
      this.addToBucket(index, encoded[k + 1]);
    }
    this.sumMicros += sumMicros;
    // The encoded buckets only bound the maximum; the recorded one is exact when known.
    if (maxMicros !== undefined && maxMicros >= 0 && index >= 0 && maxMicros >= bucketLow(index)) {
      this.maxMicros = Math.max(before, Math.min(maxMicros, this.maxMicros));
    }
  }
}

/**
 * A sliding window of request counts and latencies: a ring of fixed slots (default 30 × 10 s =
 * 5 minutes) driven by the injected clock, plus a running total that gains every record and
 * loses a slot's contents when the slot falls out. Reads of "now" therefore cost the same
 * however long the window is.
 */

import { LatencyHistogram } from "../../core/histogram.ts";
import { coarsen } from "./slot_latency.ts";

/** What a window slot counts, by index into its `counts`. */
export const Field = {
  requests: 0,
  /** Every 5xx. */
  errors: 1,
  /** 5xx the edge made itself (problem+json, no origin involved). */
  edgeErrors: 2,
  /** 5xx passed through from an origin (or a cached origin answer). */
  originErrors: 3,
  status4xx: 4,
  status401: 5,
  status403: 6,
  status429: 7,
  cacheHit: 8,
  cacheStale: 9,
  cacheRevalidated: 10,
  cacheMiss: 11,
  cacheExpired: 12,
  cacheBypass: 13,
} as const;
/** Number of counted fields. */
export const FIELD_COUNT = 14;

/** Counts and latencies of one slot or of the whole window. */
export class WindowCell {
  readonly counts: Float64Array = new Float64Array(FIELD_COUNT);
  readonly latency: LatencyHistogram = new LatencyHistogram();
  /** The slot number (`floor(time / slotMs)`) this cell holds, -1 when empty. */
  epoch = -1;

  /** Adds `other`'s counts and latencies. */
  add(other: WindowCell): void {
    for (let f = 0; f < FIELD_COUNT; f++) this.counts[f] += other.counts[f];
    this.latency.add(other.latency);
  }

  /** Removes `other`'s counts and latencies. */
  subtract(other: WindowCell): void {
    for (let f = 0; f < FIELD_COUNT; f++) this.counts[f] -= other.counts[f];
    this.latency.subtract(other.latency);
  }

  /** Empties the cell. */
  reset(): void {
    this.counts.fill(0);
    this.latency.reset();
  }
}

/** Options for {@linkcode SlidingWindow}. */
export interface WindowOptions {
  /** Length of the window (a whole number of slots). */
  windowMs: number;
  /** Length of one slot. */
  slotMs: number;
}

/** Requests per slot, oldest first, for time series. */
export interface SlotSeries {
  /** Slot number of the first entry (`floor(time / slotMs)`). */
  firstEpoch: number;
  slotMs: number;
  requests: number[];
  errors: number[];
  /** Cache hits (fresh, stale or revalidated) per slot. */
  hits: number[];
  /** Cache lookups that could hit (hits, misses, expired) per slot. */
  lookups: number[];
  /** Each slot's latencies, coarsened (see slot_latency.ts); empty for an empty slot. */
  latency: number[][];
}

/** A ring of slots with a running total. */
export class SlidingWindow {
  readonly slotMs: number;
  readonly windowMs: number;
  readonly #slots: WindowCell[];
  readonly #total = new WindowCell();
  /** Counts since the window was made (never expire). */
  readonly lifetime: Float64Array = new Float64Array(FIELD_COUNT);
  #latest = -1;

  constructor(options: WindowOptions) {
    const { windowMs, slotMs } = options;
    if (!(Number.isInteger(slotMs) && slotMs >= 100)) {
      throw new RangeError(`Invalid slot length: ${slotMs}`);
    }
    if (!(Number.isInteger(windowMs) && windowMs >= slotMs && windowMs % slotMs === 0)) {
      throw new RangeError(`Window must be a whole number of slots: ${windowMs}`);
    }
    this.slotMs = slotMs;
    this.windowMs = windowMs;
    this.#slots = Array.from({ length: windowMs / slotMs }, () => new WindowCell());
  }

  /**
   * Records one request at `now`: `ms` of latency and every field whose bit is set in `fields`
   * (`1 << Field.x`); `requests` is always counted.
   */
  record(now: number, ms: number, fields: number): void {
    const slot = this.#current(now);
    const total = this.#total;
    const lifetime = this.lifetime;
    slot.counts[0]++;
    total.counts[0]++;
    lifetime[0]++;
    while (fields !== 0) {
      const bit = fields & -fields;
      const f = 31 - Math.clz32(bit);
      slot.counts[f]++;
      total.counts[f]++;
      lifetime[f]++;
      fields ^= bit;
    }
    slot.latency.record(ms);
    total.latency.record(ms);
  }

  /** The newest slot number seen; with `lifetime[0]` it tells whether the window changed. */
  get latestSlot(): number {
    return this.#latest;
  }

  /** The whole window at `now` (a live view: read it before the next record). */
  total(now: number): WindowCell {
    this.#current(now);
    return this.#total;
  }

  /** Requests and errors per slot over the window ending at `now`, oldest first. */
  series(now: number): SlotSeries {
    this.#current(now);
    const n = this.#slots.length;
    const first = this.#latest - n + 1;
    const requests: number[] = [];
    const errors: number[] = [];
    const hits: number[] = [];
    const lookups: number[] = [];
    const latency: number[][] = [];
    for (let e = first; e <= this.#latest; e++) {
      const slot = this.#slots[((e % n) + n) % n];
      const live = slot.epoch === e;
      const c = slot.counts;
      const hit = live ? c[Field.cacheHit] + c[Field.cacheStale] + c[Field.cacheRevalidated] : 0;
      requests.push(live ? c[Field.requests] : 0);
      errors.push(live ? c[Field.errors] : 0);
      hits.push(hit);
      lookups.push(live ? hit + c[Field.cacheMiss] + c[Field.cacheExpired] : 0);
      latency.push(live ? coarsen(slot.latency) : []);
    }
    return { firstEpoch: first, slotMs: this.slotMs, requests, errors, hits, lookups, latency };
  }

  /** The slot for `now`, expiring the ones that left the window. */
  #current(now: number): WindowCell {
    const n = this.#slots.length;
    // A clock stepping backwards keeps writing into the newest slot.
    const epoch = Math.max(Math.floor(now / this.slotMs), this.#latest);
    if (epoch !== this.#latest) {
      const from = Math.max(this.#latest + 1, epoch - n + 1);
      if (epoch - this.#latest >= n) {
        for (const slot of this.#slots) slot.reset();
        this.#total.reset();
      }
      for (let e = from; e <= epoch; e++) {
        const slot = this.#slots[e % n];
        if (slot.epoch !== -1 && slot.counts[Field.requests] > 0) {
          this.#total.subtract(slot);
          slot.reset();
        }
        slot.epoch = e;
      }
      this.#latest = epoch;
    }
    return this.#slots[epoch % n];
  }
}

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * The dashboard's memory: the server's per-slot series (the whole window on every poll, so the
 * charts start full on first load), kept slot by slot for up to `maxAgeS` while the tab is open.
 */

import type { RegionSeries, StatsSeries } from "../stats_types.ts";

/** One region's figures in one slot. */
export interface RegionSlot {
  requestsPerS: number;
  errorsPerS: number;
  hitRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

interface Slot {
  regions: Map<string, RegionSlot>;
  events: Map<string, number>;
}

/** X values (seconds) and one array of values per line. */
export interface Lines {
  xs: number[];
  ys: Array<Array<number | null>>;
}

function regionSlot(r: RegionSeries, i: number): RegionSlot {
  return {
    requestsPerS: r.requests_per_s[i] ?? 0,
    errorsPerS: r.errors_per_s[i] ?? 0,
    hitRate: r.cache_hit_rate?.[i] ?? null,
    p50Ms: r.p50_ms?.[i] ?? null,
    p99Ms: r.p99_ms?.[i] ?? null,
  };
}

/** Complete slots by start time (s), newest values winning. */
export class History {
  readonly #maxAgeS: number;
  readonly #slots = new Map<number, Slot>();
  #slotMs = 0;

  constructor(maxAgeS: number) {
    this.#maxAgeS = maxAgeS;
  }

  /** The slot length of the data held (ms; 0 before the first series). */
  get slotMs(): number {
    return this.#slotMs;
  }

  /** Takes every complete slot of `series` (the server's answer at `nowS`). */
  add(series: StatsSeries | null, nowS: number): void {
    if (series === null) return;
    if (series.slot_ms !== this.#slotMs) {
      // Another slot length (the config changed): the old slots do not line up with the new.
      this.#slots.clear();
      this.#slotMs = series.slot_ms;
    }
    const regions = Object.entries(series.regions);
    const events = Object.entries(series.events_per_s ?? {});
    const length = regions[0]?.[1].requests_per_s.length ?? 0;
    for (let i = 0; i <= Math.min(series.complete, length - 1); i++) {
      const at = (series.start + i * series.slot_ms) / 1000;
      this.#slots.set(at, {
        regions: new Map(regions.map(([name, r]) => [name, regionSlot(r, i)])),
        events: new Map(events.map(([name, values]) => [name, values[i] ?? 0])),
      });
    }
    for (const at of this.#slots.keys()) if (at < nowS - this.#maxAgeS) this.#slots.delete(at);
  }

  /** Slot starts from the first slot with any requests or events, oldest first. */
  #xs(): number[] {
    const xs = [...this.#slots.keys()].sort((a, b) => a - b);
    const busy = (s: Slot) =>
      [...s.regions.values()].some((r) => r.requestsPerS > 0) ||
      [...s.events.values()].some((v) => v > 0);
    const first = xs.findIndex((x) => busy(this.#slots.get(x)!));
    return first < 0 ? [] : xs.slice(first);
  }

  /** Every region seen, sorted. */
  regions(): string[] {
    const names = new Set<string>();
    for (const s of this.#slots.values()) for (const r of s.regions.keys()) names.add(r);
    return [...names].sort();
  }

  /** One line per region of what `pick` reads from each slot. */
  perRegion(regions: string[], pick: (r: RegionSlot) => number | null): Lines {
    const xs = this.#xs();
    const ys = regions.map((name) =>
      xs.map((x) => {
        const r = this.#slots.get(x)!.regions.get(name);
        return r === undefined ? null : pick(r);
      })
    );
    return { xs, ys };
  }

  /** Event counter names seen, sorted. */
  eventNames(): string[] {
    const names = new Set<string>();
    for (const s of this.#slots.values()) for (const n of s.events.keys()) names.add(n);
    return [...names].sort();
  }

  /** Events per second per slot, one line per counter name. */
  events(names: string[]): Lines {
    const xs = this.#xs();
    return { xs, ys: names.map((n) => xs.map((x) => this.#slots.get(x)!.events.get(n) ?? 0)) };
  }
}

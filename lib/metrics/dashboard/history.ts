/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/** The dashboard's memory: what `/_edge/stats` said over time, kept in the browser. */

import type { GlobalStats } from "../stats_types.ts";

type Region = GlobalStats["per_region"][number];

/** Polled stats and per-slot rates, up to `maxAgeS` seconds back. */
export class History {
  readonly #maxAgeS: number;
  readonly #polls: Array<{ t: number; stats: GlobalStats }> = [];
  /** Slot start (s) → region → [requests/s, errors/s]. */
  readonly #slots = new Map<number, Map<string, [number, number]>>();

  constructor(maxAgeS: number) {
    this.#maxAgeS = maxAgeS;
  }

  /** Adds one poll's answer taken at `t` (seconds). */
  add(t: number, stats: GlobalStats): void {
    this.#polls.push({ t, stats });
    while (this.#polls.length && this.#polls[0].t < t - this.#maxAgeS) this.#polls.shift();
    const s = stats.series;
    if (s) {
      const length = Object.values(s.regions)[0]?.requests_per_s.length ?? 0;
      for (let i = 0; i <= Math.min(s.complete, length - 1); i++) {
        const at = (s.start + i * s.slot_ms) / 1000;
        const byRegion = this.#slots.get(at) ?? new Map();
        for (const [region, r] of Object.entries(s.regions)) {
          byRegion.set(region, [r.requests_per_s[i], r.errors_per_s[i]]);
        }
        this.#slots.set(at, byRegion);
      }
    }
    for (const at of this.#slots.keys()) if (at < t - this.#maxAgeS) this.#slots.delete(at);
  }

  /** Requests/s and error rate per complete slot and region. */
  rates(regions: string[]): {
    xs: number[];
    ys: { requests: Array<Array<number | null>>; errorRate: Array<Array<number | null>> };
  } {
    let xs = [...this.#slots.keys()].sort((a, b) => a - b);
    // Slots from before any edge had traffic say nothing: start at the first with requests.
    const first = xs.findIndex((x) => [...this.#slots.get(x)!.values()].some((v) => v[0] > 0));
    xs = first < 0 ? [] : xs.slice(first);
    const requests = regions.map((r) => xs.map((x) => this.#slots.get(x)?.get(r)?.[0] ?? null));
    const errorRate = regions.map((r) =>
      xs.map((x) => {
        const v = this.#slots.get(x)?.get(r);
        return v && v[0] > 0 ? v[1] / v[0] : null;
      })
    );
    return { xs, ys: { requests, errorRate } };
  }

  /** Per-region values picked from each poll. */
  samples(
    regions: string[],
    pick: (r: Region) => Array<number | null>,
  ): { xs: number[]; ys: Array<Array<Array<number | null>>> } {
    const xs = this.#polls.map((p) => p.t);
    const ys = regions.map((name) => {
      const perPoll = this.#polls.map((p) => {
        const r = p.stats.per_region.find((x) => x.region === name);
        return r ? pick(r) : null;
      });
      const width = perPoll.find((v) => v !== null)?.length ?? 1;
      return Array.from({ length: width }, (_, k) => perPoll.map((v) => v?.[k] ?? null));
    });
    return { xs, ys };
  }

  /**
   * Events per second of the `outpost_analytics_*` counters that count events (accepted,
   * rejected, …), between consecutive polls; byte and interval counters stay off this chart.
   */
  analyticsRates(): { names: string[]; xs: number[]; ys: Array<Array<number | null>> } {
    const names = [
      ...new Set(this.#polls.flatMap((p) => Object.keys(p.stats.analytics ?? {}))),
    ].filter((n) => /(^|_)events(_|$)/.test(n) && !n.includes("bytes")).sort();
    const xs: number[] = [];
    const ys: Array<Array<number | null>> = names.map(() => []);
    for (let i = 1; i < this.#polls.length; i++) {
      const a = this.#polls[i - 1], b = this.#polls[i];
      xs.push(b.t);
      names.forEach((n, k) => {
        const before = a.stats.analytics?.[n], after = b.stats.analytics?.[n];
        const dt = b.t - a.t;
        // A counter that went down means a node restarted or dropped out: no rate for that step.
        ys[k].push(
          before === undefined || after === undefined || after < before || dt <= 0
            ? null
            : (after - before) / dt,
        );
      });
    }
    return { names, xs, ys };
  }
}

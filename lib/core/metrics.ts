/**
 * A small metrics registry every area records into: labelled counters, gauges and latency
 * histograms, cheap enough for the hot path (a map lookup and an add, or nothing at all with a
 * series resolved once by `bind()` / `series()`). Exposition (Prometheus text, snapshots) reads
 * `families()` and `histogramFamilies()`.
 */

import { LatencyHistogram } from "./histogram.ts";

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

/** One labelled series. */
export interface Series {
  labels: Labels;
  value: number;
}

/** A metric and all its series. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge";
  series: Series[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function keyOf(labels: Labels | undefined): string {
  if (!labels) return "";
  const names = Object.keys(labels);
  if (names.length === 1) return `${names[0]}=${labels[names[0]]}`;
  return names.sort().map((n) => `${n}=${labels[n]}`).join("\u0000");
}

abstract class Instrument {
  readonly name: string;
  readonly help: string;
  protected readonly series = new Map<string, Series>();
  readonly #maxSeries: number;

  constructor(name: string, help: string, maxSeries: number) {
    if (!NAME.test(name)) throw new TypeError(`Invalid metric name: ${name}`);
    this.name = name;
    this.help = help;
    this.#maxSeries = maxSeries;
  }

  protected entry(labels: Labels | undefined): Series | null {
    const key = keyOf(labels);
    let s = this.series.get(key);
    if (s === undefined) {
      // A label fed from outside must not grow memory without bound.
      if (this.series.size >= this.#maxSeries) return null;
      for (const n in labels) if (!LABEL.test(n)) throw new TypeError(`Invalid label: ${n}`);
      s = { labels: { ...labels }, value: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  /** The current value of one series (0 when never recorded). */
  get(labels?: Labels): number {
    return this.series.get(keyOf(labels))?.value ?? 0;
  }

  /** Every series, copied. */
  collect(): Series[] {
    return [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value }));
  }

  /** The sum of every series. */
  total(): number {
    let sum = 0;
    for (const s of this.series.values()) sum += s.value;
    return sum;
  }
}

/** One counter series resolved in advance, for hot paths that must not look labels up. */
export class BoundCounter {
  readonly #series: Series;

  constructor(series: Series) {
    this.#series = series;
  }

  /** Adds `by` (default 1; callers pass non-negative amounts). */
  inc(by = 1): void {
    this.#series.value += by;
  }

  /** The current value. */
  get value(): number {
    return this.#series.value;
  }
}

/** A monotonically increasing count. */
export class Counter extends Instrument {
  /** Adds `by` (default 1, never negative) to the series for `labels`. */
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`Counter ${this.name} cannot decrease: ${by}`);
    const s = this.entry(labels);
    if (s) s.value += by;
  }

  /** The series for `labels`, resolved once (past the series cap: a detached one). */
  bind(labels?: Labels): BoundCounter {
    return new BoundCounter(this.entry(labels) ?? { labels: { ...labels }, value: 0 });
  }
}

/** A value that goes up and down. */
export class Gauge extends Instrument {
  set(value: number, labels?: Labels): void {
    const s = this.entry(labels);
    if (s) s.value = value;
  }

  add(delta: number, labels?: Labels): void {
    const s = this.entry(labels);
    if (s) s.value += delta;
  }
}

/** One labelled latency histogram. */
export interface HistogramSeries {
  labels: Labels;
  histogram: LatencyHistogram;
}

/** A histogram metric and all its series. */
export interface HistogramFamily {
  name: string;
  help: string;
  type: "histogram";
  series: HistogramSeries[];
}

/** Latencies by label set, each series a {@linkcode LatencyHistogram} (milliseconds in). */
export class Histogram {
  readonly name: string;
  readonly help: string;
  readonly #series = new Map<string, HistogramSeries>();
  readonly #maxSeries: number;

  constructor(name: string, help: string, maxSeries: number) {
    if (!NAME.test(name)) throw new TypeError(`Invalid metric name: ${name}`);
    this.name = name;
    this.help = help;
    this.#maxSeries = maxSeries;
  }

  /** The histogram for `labels`, created on first use (past the cap: a detached one). */
  series(labels?: Labels): LatencyHistogram {
    const key = keyOf(labels);
    const existing = this.#series.get(key);
    if (existing) return existing.histogram;
    const histogram = new LatencyHistogram();
    if (this.#series.size >= this.#maxSeries) return histogram;
    for (const n in labels) if (!LABEL.test(n)) throw new TypeError(`Invalid label: ${n}`);
    this.#series.set(key, { labels: { ...labels }, histogram });
    return histogram;
  }

  /** Records one latency in milliseconds. */
  record(ms: number, labels?: Labels): void {
    this.series(labels).record(ms);
  }

  /** Every series (the histograms themselves, not copies). */
  collect(): HistogramSeries[] {
    return [...this.#series.values()];
  }
}

/** Where every area registers its metrics; one per node. */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Counter | Gauge>();
  readonly #histograms = new Map<string, Histogram>();
  readonly #maxSeries: number;

  constructor(options: { maxSeriesPerMetric?: number } = {}) {
    this.#maxSeries = options.maxSeriesPerMetric ?? 1000;
  }

  /** The counter called `name`, created on first use. */
  counter(name: string, help: string): Counter {
    const existing = this.#metrics.get(name);
    if (existing instanceof Counter) return existing;
    if (existing) throw new TypeError(`Metric ${name} is already a gauge`);
    if (this.#histograms.has(name)) throw new TypeError(`Metric ${name} is already a histogram`);
    const c = new Counter(name, help, this.#maxSeries);
    this.#metrics.set(name, c);
    return c;
  }

  /** The latency histogram called `name`, created on first use. */
  histogram(name: string, help: string): Histogram {
    const existing = this.#histograms.get(name);
    if (existing) return existing;
    if (this.#metrics.has(name)) {
      throw new TypeError(`Metric ${name} is already a counter or gauge`);
    }
    const h = new Histogram(name, help, this.#maxSeries);
    this.#histograms.set(name, h);
    return h;
  }

  /** The gauge called `name`, created on first use. */
  gauge(name: string, help: string): Gauge {
    const existing = this.#metrics.get(name);
    if (existing instanceof Gauge) return existing;
    if (existing) throw new TypeError(`Metric ${name} is already a counter`);
    if (this.#histograms.has(name)) throw new TypeError(`Metric ${name} is already a histogram`);
    const g = new Gauge(name, help, this.#maxSeries);
    this.#metrics.set(name, g);
    return g;
  }

  /** Every histogram with its series, sorted by name. */
  histogramFamilies(): HistogramFamily[] {
    return [...this.#histograms.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((h) => ({ name: h.name, help: h.help, type: "histogram", series: h.collect() }));
  }

  /**
   * Each counter whose name matches `filter`, with the sum of its series: cheap enough for a
   * request path (no copies, no sorting), unlike `families()`.
   */
  counterTotals(filter: RegExp): Map<string, number> {
    const out = new Map<string, number>();
    for (const m of this.#metrics.values()) {
      if (m instanceof Counter && filter.test(m.name)) out.set(m.name, m.total());
    }
    return out;
  }

  /** Every counter and gauge with its series, sorted by name (histograms: `histogramFamilies`). */
  families(): MetricFamily[] {
    return [...this.#metrics.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => ({
        name: m.name,
        help: m.help,
        type: m instanceof Counter ? "counter" : "gauge",
        series: m.collect(),
      }));
  }
}

/**
 * A small metrics registry every area records into: labelled counters and gauges, cheap enough
 * for the hot path (a map lookup and an add). Exposition (Prometheus text, snapshots) reads
 * `families()`; richer instruments (latency histograms, windows) build on the same registry.
 */

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
}

/** A monotonically increasing count. */
export class Counter extends Instrument {
  /** Adds `by` (default 1, never negative) to the series for `labels`. */
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`Counter ${this.name} cannot decrease: ${by}`);
    const s = this.entry(labels);
    if (s) s.value += by;
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

/** Where every area registers its metrics; one per node. */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Counter | Gauge>();
  readonly #maxSeries: number;

  constructor(options: { maxSeriesPerMetric?: number } = {}) {
    this.#maxSeries = options.maxSeriesPerMetric ?? 1000;
  }

  /** The counter called `name`, created on first use. */
  counter(name: string, help: string): Counter {
    const existing = this.#metrics.get(name);
    if (existing instanceof Counter) return existing;
    if (existing) throw new TypeError(`Metric ${name} is already a gauge`);
    const c = new Counter(name, help, this.#maxSeries);
    this.#metrics.set(name, c);
    return c;
  }

  /** The gauge called `name`, created on first use. */
  gauge(name: string, help: string): Gauge {
    const existing = this.#metrics.get(name);
    if (existing instanceof Gauge) return existing;
    if (existing) throw new TypeError(`Metric ${name} is already a counter`);
    const g = new Gauge(name, help, this.#maxSeries);
    this.#metrics.set(name, g);
    return g;
  }

  /** Every metric with its series, sorted by name. */
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

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/** uPlot line charts that follow the page's colour scheme and width, one line per series. */

import uPlot from "uplot";

/** One line of a chart. */
export interface LineSpec {
  label: string;
  color: string;
  dash?: number[];
}

/** Options for {@linkcode LineChart}. */
export interface LineChartOptions {
  /** Unit shown on the y axis and in the legend ("req/s", "ms", "%"). */
  unit: string;
  /** Formats a y value for the legend and axis. */
  format: (v: number) => string;
  height?: number;
  /** Fixed y range minimum (default 0). */
  yMin?: number;
  yMax?: number;
  /** A logarithmic y axis (latencies spanning µs to seconds). */
  log?: boolean;
  /** Shown over the chart while no line has a value. */
  emptyText?: string;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** A chart in `host` that is rebuilt when its lines change and resized with its container. */
export class LineChart {
  readonly #host: HTMLElement;
  readonly #o: LineChartOptions;
  #plot: uPlot | null = null;
  #key = "";
  #data: uPlot.AlignedData = [[]];
  #lines: LineSpec[] = [];

  readonly #empty: HTMLElement;

  constructor(host: HTMLElement, options: LineChartOptions) {
    this.#host = host;
    this.#o = options;
    this.#empty = document.createElement("p");
    this.#empty.className = "chart-empty";
    this.#empty.textContent = options.emptyText ?? "No data yet";
    host.append(this.#empty);
    new ResizeObserver(() => this.#resize()).observe(host);
  }

  /** Shows `xs` (seconds since the epoch) against one `ys` array per line. */
  update(xs: number[], lines: LineSpec[], ys: Array<Array<number | null>>): void {
    this.#data = [xs, ...ys] as uPlot.AlignedData;
    this.#lines = lines;
    this.#empty.hidden = ys.some((line) => line.some((v) => v !== null && Number.isFinite(v)));
    const key = lines.map((l) => `${l.label}|${l.color}|${l.dash ?? ""}`).join(",");
    if (this.#plot === null || key !== this.#key) {
      this.#key = key;
      this.rebuild();
    } else {
      this.#plot.setData(this.#data);
    }
  }

  /** Builds the chart again (after a colour scheme change). */
  rebuild(): void {
    this.#plot?.destroy();
    const axis = cssVar("--muted") || "#888";
    const grid = cssVar("--grid") || "rgba(128,128,128,.15)";
    const { format, unit } = this.#o;
    const axisStyle = {
      stroke: axis,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: "12px system-ui, sans-serif",
    };
    const opts: uPlot.Options = {
      width: Math.max(280, this.#host.clientWidth),
      height: this.#o.height ?? 220,
      legend: { live: true },
      padding: [12, 16, 0, 0],
      cursor: { points: { size: 6 } },
      scales: {
        x: { time: true },
        y: this.#o.log ? { distr: 3, log: 10 } : {
          range: (_u, min, max) => [
            this.#o.yMin ?? 0,
            this.#o.yMax ?? (max > 0 ? max * 1.15 : Math.max(1, min)),
          ],
        },
      },
      axes: [
        axisStyle,
        {
          ...axisStyle,
          size: 70,
          values: (_u, ticks) => ticks.map((t) => (t === 0 ? "0" : format(t))),
        },
      ],
      series: [
        { label: "time" },
        ...this.#lines.map((l) => ({
          label: l.label,
          stroke: l.color,
          width: 2,
          dash: l.dash,
          spanGaps: false,
          points: { show: false },
          // Values show while hovering; otherwise the legend is just the key.
          value: (_u: uPlot, v: number | null) => v === null ? "" : `${format(v)} ${unit}`.trim(),
        })),
      ],
    };
    this.#plot = new uPlot(opts, this.#data, this.#host);
    this.#host.append(this.#empty);
  }

  #resize(): void {
    const width = Math.max(280, this.#host.clientWidth);
    if (this.#plot && Math.abs(this.#plot.width - width) > 2) {
      this.#plot.setSize({ width, height: this.#o.height ?? 220 });
    }
  }
}

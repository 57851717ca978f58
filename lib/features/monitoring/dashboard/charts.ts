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
  /** Stroke width in CSS pixels (default 2). */
  width?: number;
  /** Opacity of the line, 0–1 (default 1). */
  alpha?: number;
  /** Point markers (shown where the points are far enough apart); `hollow` draws rings. */
  points?: { size: number; hollow: boolean };
}

/** Options for {@linkcode LineChart}. */
export interface LineChartOptions {
  /** Unit shown in the legend after each value ("req/s", "events/s"; "" when `format` has one). */
  unit: string;
  /** Formats a value for the legend. */
  format: (v: number) => string;
  /** Formats an axis tick, knowing the step between ticks (so all ticks share their decimals). */
  tick: (v: number, step: number) => string;
  height?: number;
  /** Fixed y range minimum (default 0). */
  yMin?: number;
  yMax?: number;
  /** A logarithmic y axis (latencies spanning µs to seconds). */
  log?: boolean;
  /** Shown over the chart while no line has a value: what will appear, and what brings it. */
  emptyText: string;
}

/**
 * Which ticks of a log axis keep their line and label: powers of ten, plus 2 and 5 times them
 * when a decade is tall enough (100 px) for three labels not to crowd.
 */
function logKept(u: uPlot, v: number): boolean {
  const mantissa = Math.round(v / 10 ** Math.floor(Math.log10(v) + 1e-9));
  if (mantissa === 1) return true;
  const { min, max } = u.scales.y;
  const decades = min && max && min > 0 ? Math.log10(max / min) : 1;
  const heightPx = u.bbox.height / (globalThis.devicePixelRatio || 1);
  return heightPx / Math.max(decades, 0.1) >= 100 && (mantissa === 2 || mantissa === 5);
}

function logFilter(u: uPlot, ticks: number[]): Array<number | null> {
  return ticks.map((v) => (logKept(u, v) ? v : null));
}

/** A time axis label: hours and minutes, with seconds when ticks are under a minute apart. */
function clock(seconds: number, step: number): string {
  const d = new Date(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return step < 60 ? `${hm}:${two(d.getSeconds())}` : hm;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function withAlpha(color: string, alpha: number): string {
  if (alpha >= 1 || !/^#[0-9a-f]{6}$/i.test(color)) return color;
  return color + Math.round(alpha * 255).toString(16).padStart(2, "0");
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
    this.#empty.textContent = options.emptyText;
    host.append(this.#empty);
    new ResizeObserver(() => this.#resize()).observe(host);
  }

  /** Changes what the chart says while it has no data. */
  setEmptyText(text: string): void {
    if (this.#empty.textContent !== text) this.#empty.textContent = text;
  }

  /** Shows `xs` (seconds since the epoch) against one `ys` array per line. */
  update(xs: number[], lines: LineSpec[], ys: Array<Array<number | null>>): void {
    this.#data = [xs, ...ys] as uPlot.AlignedData;
    this.#lines = lines;
    let points = 0, sum = 0;
    for (const line of ys) {
      for (const v of line) {
        if (v !== null && Number.isFinite(v)) {
          points++;
          sum += v;
        }
      }
    }
    this.#empty.hidden = points > 0;
    // An empty chart shows its explanation alone, not blank axes behind it.
    this.#host.classList.toggle("is-empty", points === 0);
    // For tests and the curious: how much the chart shows, without reading the canvas.
    this.#host.dataset.points = String(points);
    this.#host.dataset.sum = String(Math.round(sum * 1000) / 1000);
    const key = lines.map((l) => JSON.stringify(l)).join(",");
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
    const background = cssVar("--panel") || "#fff";
    const { format, tick, unit, log } = this.#o;
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
      // Room on the right for half of the last time label (it is centred on its tick).
      padding: [12, 36, 0, 0],
      cursor: { points: { size: 6 } },
      scales: {
        x: { time: true },
        y: log ? { distr: 3, log: 10 } : {
          range: (_u, min, max) => [
            this.#o.yMin ?? 0,
            this.#o.yMax ?? (max > 0 ? max * 1.15 : Math.max(1, min)),
          ],
        },
      },
      axes: [
        // One short line per tick ("14:04:30"), at least 90 px apart: labels never touch, and
        // none is clipped at the edge the way uPlot's two-line date labels are.
        {
          ...axisStyle,
          space: 90,
          values: (_u, ticks, _axis, _space, step) => ticks.map((t) => clock(t, step)),
        },
        {
          ...axisStyle,
          size: 70,
          space: 30,
          values: (u, ticks, _axis, _space, step) =>
            ticks.map((t) => (log && !logKept(u, t) ? null : t === 0 ? "0" : tick(t, step))),
          // A log axis keeps the ticks, grid lines and labels there is room for (see logKept).
          ...(log ? { filter: logFilter } : {}),
          grid: { ...axisStyle.grid, ...(log ? { filter: logFilter } : {}) },
          ticks: { ...axisStyle.ticks, ...(log ? { filter: logFilter } : {}) },
        },
      ],
      series: [
        { label: "time" },
        ...this.#lines.map((l) => ({
          label: l.label,
          stroke: withAlpha(l.color, l.alpha ?? 1),
          width: l.width ?? 2,
          dash: l.dash,
          spanGaps: false,
          points: l.points
            ? {
              size: l.points.size,
              width: 1.5,
              stroke: l.color,
              fill: l.points.hollow ? background : l.color,
              space: l.points.size * 3,
            }
            : { show: false },
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

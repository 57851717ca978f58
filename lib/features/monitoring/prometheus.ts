/**
 * The registry in Prometheus' text exposition format 0.0.4: HELP and TYPE lines, counters,
 * gauges, and histograms as cumulative `_bucket{le}` series with `_sum` and `_count` (seconds).
 */

import { BUCKET_COUNT, bucketHigh, type LatencyHistogram } from "../../core/histogram.ts";
import type { Labels, MetricsRegistry } from "../../core/metrics.ts";

/** The `Content-Type` of the exposition. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Upper bounds of the exposed histogram buckets, in seconds. */
const LE_SECONDS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
] as const;

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const name of Object.keys(labels).sort()) {
    parts.push(`${name}="${escapeLabel(labels[name])}"`);
  }
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/**
 * Cumulative counts at each bound (µs): a fine bucket counts under a bound when its highest
 * value is at or below it, so a value within 0.8% above a bound may land in the next one.
 */
function cumulativeCounts(h: LatencyHistogram, boundsUs: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let sum = 0;
  for (const bound of boundsUs) {
    while (i < BUCKET_COUNT && bucketHigh(i) <= bound) sum += h.counts[i++];
    out.push(sum);
  }
  return out;
}

const LE_US = LE_SECONDS.map((s) => Math.round(s * 1e6));

/** Renders every counter, gauge and histogram; `constLabels` are added where missing. */
export function renderPrometheus(registry: MetricsRegistry, constLabels: Labels = {}): string {
  const lines: string[] = [];
  const withConst = (labels: Labels): Labels => ({ ...constLabels, ...labels });
  for (const family of registry.families()) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const s of family.series) {
      lines.push(`${family.name}${labelText(withConst(s.labels))} ${formatValue(s.value)}`);
    }
  }
  for (const family of registry.histogramFamilies()) {
    const name = family.name;
    lines.push(`# HELP ${name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${name} histogram`);
    for (const s of family.series) {
      const labels = withConst(s.labels);
      const h = s.histogram;
      const cumulative = cumulativeCounts(h, LE_US);
      LE_SECONDS.forEach((le, k) => {
        lines.push(`${name}_bucket${labelText(labels, ["le", String(le)])} ${cumulative[k]}`);
      });
      lines.push(`${name}_bucket${labelText(labels, ["le", "+Inf"])} ${h.count}`);
      lines.push(`${name}_sum${labelText(labels)} ${formatValue(h.sumMicros / 1e6)}`);
      lines.push(`${name}_count${labelText(labels)} ${h.count}`);
    }
  }
  return lines.join("\n") + "\n";
}

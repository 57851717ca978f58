/**
 * The latency table as a hand-written SVG: one panel per scenario, a pair of bars per city
 * (direct to origin, through the city's edge) at the p50, with a whisker up to the p95.
 */

import { type LatencyRow, SCENARIOS } from "./scenario_latency.ts";

const COLORS = { direct: "#8a94a6", edge: "#e8702a" } as const;
const PANEL_W = 560;
const PANEL_H = 330;
const MARGIN = { top: 36, right: 16, bottom: 104, left: 96 };

function esc(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** A round axis maximum and tick step covering `max`. */
export function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 1 };
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

interface Scale {
  top: number;
  step: number;
}

function panel(
  rows: readonly LatencyRow[],
  title: string,
  at: { x0: number; y0: number },
  scale: Scale,
): string {
  const { x0, y0 } = at;
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const { top, step } = scale;
  const y = (v: number) => y0 + MARGIN.top + h - (Math.min(v, top) / top) * h;
  const left = x0 + MARGIN.left;
  const out: string[] = [
    `<text x="${x0 + PANEL_W / 2}" y="${
      y0 + 20
    }" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let v = 0; v <= top + 1e-9; v += step) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${left}" x2="${left + w}" y1="${yy}" y2="${yy}" stroke="#e3e6eb"/>`,
      `<text x="${left - 6}" y="${yy}" dy="4" text-anchor="end" font-size="10">${+v.toFixed(
        1,
      )}</text>`,
    );
  }
  out.push(
    `<text transform="translate(${x0 + 58},${
      y0 + MARGIN.top + h / 2
    }) rotate(-90)" text-anchor="middle" font-size="10">ms (p50, whisker p95)</text>`,
  );
  const group = w / Math.max(1, rows.length);
  const bar = Math.min(22, group * 0.34);
  rows.forEach((r, i) => {
    const cx = left + group * (i + 0.5);
    for (const [k, stats, dx] of [["direct", r.direct, -bar], ["edge", r.viaEdge, 0]] as const) {
      if (!Number.isFinite(stats.p50)) continue;
      const bx = cx + dx;
      const by = y(stats.p50);
      const base = y(0);
      out.push(
        `<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${bar.toFixed(1)}" height="${
          (base - by).toFixed(1)
        }" fill="${COLORS[k]}"><title>${
          esc(r.city)
        } ${k}: p50 ${stats.p50} ms, p95 ${stats.p95} ms</title></rect>`,
      );
      const wx = (bx + bar / 2).toFixed(1);
      out.push(
        `<line x1="${wx}" x2="${wx}" y1="${by.toFixed(1)}" y2="${
          y(stats.p95).toFixed(1)
        }" stroke="#333" stroke-width="1"/>`,
      );
      if (stats.p95 > top) {
        // A p95 beyond the axis: the whisker ends in an arrowhead with its value.
        const t = y(top);
        out.push(
          `<path d="M${+wx - 3} ${t + 5} L${wx} ${t} L${+wx + 3} ${t + 5} Z" fill="#333"/>`,
          `<text x="${+wx + 4}" y="${t + 9}" font-size="8">${Math.round(stats.p95)}</text>`,
        );
      }
    }
    const ly = y0 + MARGIN.top + h + 12;
    out.push(
      `<text transform="translate(${
        cx.toFixed(1)
      },${ly}) rotate(-35)" text-anchor="end" font-size="10">${esc(r.city)} → ${
        esc(r.edge)
      }</text>`,
    );
  });
  out.push(
    `<line x1="${left}" x2="${left + w}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`,
  );
  return out.join("\n");
}

/**
 * Renders every scenario of `rows` as a 2-column grid of panels on one shared axis (up to 1.25×
 * the largest p50, so a noisy p95 does not squash the bars; longer whiskers are clipped and
 * labelled).
 */
export function latencySvg(rows: readonly LatencyRow[], subtitle: string): string {
  const scenarios = SCENARIOS.filter((s) => rows.some((r) => r.scenario === s.id));
  const cols = 2;
  const header = 56;
  const width = PANEL_W * cols;
  const height = header + PANEL_H * Math.ceil(scenarios.length / cols);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="16" y="22" font-size="16" font-weight="bold">Outpost: latency per city, direct to the origin vs through the city's edge</text>`,
    `<text x="16" y="40" font-size="11" fill="#555">${esc(subtitle)}</text>`,
    `<rect x="${width - 250}" y="12" width="12" height="12" fill="${COLORS.direct}"/>`,
    `<text x="${width - 234}" y="22" font-size="11">direct to origin (us-east)</text>`,
    `<rect x="${width - 250}" y="30" width="12" height="12" fill="${COLORS.edge}"/>`,
    `<text x="${width - 234}" y="40" font-size="11">through the city's edge</text>`,
  ];
  const maxP50 = Math.max(
    ...rows.flatMap((r) => [r.direct.p50, r.viaEdge.p50]).filter(Number.isFinite),
  );
  const scale = niceScale(maxP50 * 1.25);
  scenarios.forEach((s, i) => {
    const x0 = (i % cols) * PANEL_W;
    const y0 = header + Math.floor(i / cols) * PANEL_H;
    parts.push(panel(rows.filter((r) => r.scenario === s.id), s.label, { x0, y0 }, scale));
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

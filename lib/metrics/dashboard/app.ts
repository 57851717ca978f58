/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * The operator dashboard (browser code, bundled by tools/build_dashboard.ts): polls
 * `/_edge/stats`, keeps a client-side history, and draws requests/s, latency, error and cache
 * hit rates per region, the health of every edge and the analytics event rates.
 */

import "uplot/dist/uPlot.min.css";
import "./style.css";
import type { GlobalStats } from "../stats_types.ts";
import { LineChart, type LineSpec } from "./charts.ts";
import { esc, formatCount, formatDuration, formatMs, formatPct } from "./format.ts";
import { History } from "./history.ts";

const PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899"];

const params = new URLSearchParams(location.search);
// The token arrives once in the URL; keep it for this tab only and take it out of the address bar.
const given = params.get("token");
if (given) {
  sessionStorage.setItem("outpost-token", given);
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : ""));
}
const token = sessionStorage.getItem("outpost-token");
const pollMs = Math.max(1000, Number(params.get("interval_ms")) || 5000);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const store = new History(3600);
const colors = new Map<string, string>();

function colorOf(region: string): string {
  let c = colors.get(region);
  if (!c) {
    c = PALETTE[colors.size % PALETTE.length];
    colors.set(region, c);
  }
  return c;
}

const charts = {
  rps: new LineChart($("chart-rps"), { unit: "req/s", format: formatCount }),
  latency: new LineChart($("chart-latency"), { unit: "", format: formatMs, log: true }),
  errors: new LineChart($("chart-errors"), {
    unit: "",
    format: formatPct,
    emptyText: "No requests yet",
  }),
  hit: new LineChart($("chart-hit"), {
    unit: "",
    format: formatPct,
    yMax: 1,
    emptyText: "No cache lookups yet",
  }),
  analytics: new LineChart($("chart-analytics"), { unit: "events/s", format: formatCount }),
};

function setText(id: string, text: string): void {
  $(id).textContent = text;
}

function render(stats: GlobalStats): void {
  const now = Date.now() / 1000;
  store.add(now, stats);
  const regions = stats.per_region.map((r) => r.region);
  for (const r of [...regions].sort()) colorOf(r);

  setText("kpi-rps", formatCount(stats.requests_per_s));
  setText("kpi-p50", formatMs(stats.p50_ms));
  setText("kpi-p99", formatMs(stats.p99_ms));
  setText("kpi-errors", formatPct(stats.error_rate));
  setText("kpi-hit", formatPct(stats.cache_hit_rate));
  setText("kpi-total", formatCount(stats.total_requests));
  setText("window", `${formatDuration(stats.window_s)} window`);
  if (stats.series) setText("slot", formatDuration(stats.series.slot_ms / 1000));

  const pill = $("status");
  pill.className = `pill ${stats.unhealthy_edges ? "bad" : stats.edge_count ? "good" : "idle"}`;
  pill.textContent = stats.edge_count === 0
    ? "No edges reporting"
    : stats.unhealthy_edges
    ? `${stats.unhealthy_edges} of ${stats.edge_count} edges unhealthy`
    : `${stats.edge_count === 1 ? "The edge is" : `All ${stats.edge_count} edges`} healthy`;
  setText("updated", `Updated ${new Date().toLocaleTimeString()}`);

  const rps = store.rates(regions);
  charts.rps.update(rps.xs, regions.map(line), rps.ys.requests);
  charts.errors.update(rps.xs, regions.map(line), rps.ys.errorRate);

  const lat = store.samples(regions, (r) => [r.p50_ms, r.p99_ms]);
  const latLines: LineSpec[] = regions.flatMap((r) => [
    { label: `${r} p99`, color: colorOf(r) },
    { label: `${r} p50`, color: colorOf(r), dash: [6, 4] },
  ]);
  charts.latency.update(lat.xs, latLines, lat.ys.flatMap((pair) => [pair[1], pair[0]]));

  const hit = store.samples(regions, (r) => [r.cache_hit_rate]);
  charts.hit.update(hit.xs, regions.map(line), hit.ys.map((v) => v[0]));

  renderEdges(stats);
  renderAnalytics();
  const skipped = stats.skipped.corrupt + stats.skipped.old_format;
  setText(
    "skipped",
    skipped ? `${skipped} unreadable snapshot${skipped === 1 ? "" : "s"} skipped` : "",
  );
}

function line(region: string): LineSpec {
  return { label: region, color: colorOf(region) };
}

function renderEdges(stats: GlobalStats): void {
  const rows = stats.per_edge.map((e) => {
    const ok = e.status === "ok";
    const bad = e.status === "unhealthy";
    const dot = ok ? "good" : bad ? "bad" : "warn";
    return `<tr class="${bad ? "unhealthy" : ""}">
      <td><span class="dot ${dot}"></span>${ok ? "healthy" : esc(e.status)}</td>
      <td><span class="swatch" data-c="${colorOf(e.region)}"></span>${esc(e.region)}</td>
      <td class="mono">${esc(e.node_id)}</td>
      <td class="num">${formatCount(e.requests_per_s)}</td>
      <td class="num">${formatMs(e.p50_ms)}</td>
      <td class="num">${formatMs(e.p99_ms)}</td>
      <td class="num">${formatPct(e.error_rate)}</td>
      <td class="num">${formatPct(e.cache_hit_rate)}</td>
      <td class="num">${formatDuration(e.uptime_s)}</td>
      <td class="num">${e.age_s} s ago</td>
      <td class="reasons">${e.reasons.map(esc).join("<br>")}</td>
    </tr>`;
  });
  $("edges").innerHTML = rows.join("") ||
    `<tr><td colspan="11" class="empty">No edge has reported yet</td></tr>`;
  // Colours go through CSSOM: the page's CSP allows no inline style attributes.
  for (const el of document.querySelectorAll<HTMLElement>(".swatch[data-c]")) {
    el.style.setProperty("--c", el.dataset.c ?? "");
  }
}

function renderAnalytics(): void {
  const a = store.analyticsRates();
  const empty = a.names.length === 0;
  $("analytics-empty").hidden = !empty;
  $("chart-analytics").hidden = empty;
  if (empty) return;
  const lines = a.names.map((n, i) => ({
    label: n.replace(/^outpost_analytics_/, "").replace(/_total$/, ""),
    color: PALETTE[(i + 3) % PALETTE.length],
  }));
  charts.analytics.update(a.xs, lines, a.ys);
}

async function poll(): Promise<void> {
  const banner = $("error");
  try {
    const res = await fetch("/_edge/stats", {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      cache: "no-store",
    });
    if (!res.ok) {
      const problem = await res.json().catch(() => null) as { detail?: string } | null;
      throw new Error(`${res.status}: ${problem?.detail ?? res.statusText}`);
    }
    render(await res.json() as GlobalStats);
    banner.hidden = true;
  } catch (error) {
    banner.hidden = false;
    banner.textContent = `Cannot load /_edge/stats (${(error as Error).message}); retrying`;
  } finally {
    document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1);
    setTimeout(poll, pollMs);
  }
}

matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  for (const c of Object.values(charts)) c.rebuild();
});
setText("interval", `refreshes every ${pollMs / 1000} s`);
poll();

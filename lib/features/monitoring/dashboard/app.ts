/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />
/**
 * The operator dashboard (browser code, bundled by tools/build_dashboard.ts): signs in when the
 * node needs its admin token, polls `/_edge/stats`, and draws requests/s, latency, error and
 * cache hit rates per region and the analytics event rates from the server's per-slot history.
 */

import "uplot/dist/uPlot.min.css";
import "./style.css";
import type { GlobalStats } from "../stats_types.ts";
import { LineChart, type LineSpec } from "./charts.ts";
import {
  esc,
  formatCount,
  formatDuration,
  formatMs,
  formatPct,
  tickCount,
  tickMs,
  tickPct,
} from "./format.ts";
import { History } from "./history.ts";

const PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899"];
/**
 * Each region gets its own dash, width and marker besides its colour: two regions with the same
 * values draw on top of each other, and the wider line under the narrower one stays visible.
 */
const DASHES: Array<number[] | undefined> = [undefined, [10, 5], [3, 4], [14, 4, 3, 4]];
const WIDTHS = [5, 3.5, 2.25, 1.5];
const TOKEN_KEY = "outpost-admin-token";

const params = new URLSearchParams(location.search);
const pollMs = Math.max(1000, Number(params.get("interval_ms")) || 5000);
// A token in the address bar has already reached logs and history: drop it and never use it.
const tokenInUrl = params.has("token");
if (tokenInUrl) {
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : ""));
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const store = new History(3600);
const regionIndex = new Map<string, number>();

function styleOf(region: string): Omit<LineSpec, "label"> {
  let i = regionIndex.get(region);
  if (i === undefined) {
    i = regionIndex.size;
    regionIndex.set(region, i);
  }
  return {
    color: PALETTE[i % PALETTE.length],
    dash: DASHES[i % DASHES.length],
    width: WIDTHS[Math.min(i, WIDTHS.length - 1)],
    points: { size: 6 + 2 * (i % 2), hollow: i % 2 === 1 },
  };
}

const charts = {
  rps: new LineChart($("chart-rps"), {
    unit: "req/s",
    format: formatCount,
    tick: tickCount,
    emptyText: "No requests in the window yet",
  }),
  latency: new LineChart($("chart-latency"), {
    unit: "",
    format: formatMs,
    tick: tickMs,
    log: true,
    emptyText: "No requests in the window yet",
  }),
  errors: new LineChart($("chart-errors"), {
    unit: "",
    format: formatPct,
    tick: tickPct,
    emptyText: "No requests in the window yet",
  }),
  hit: new LineChart($("chart-hit"), {
    unit: "",
    format: formatPct,
    tick: tickPct,
    yMax: 1,
    emptyText: "No cacheable lookups in the window yet",
  }),
  analytics: new LineChart($("chart-analytics"), {
    unit: "events/s",
    format: formatCount,
    tick: tickCount,
    emptyText: "No analytics events in the window yet",
  }),
};

function setText(id: string, text: string): void {
  $(id).textContent = text;
}

function setPill(kind: "good" | "bad" | "idle", text: string): void {
  const pill = $("status");
  pill.className = `pill ${kind}`;
  pill.textContent = text;
}

/** What the page shows: signing in, live data, or why there is none. */
function setState(state: "signin" | "live" | "closed"): void {
  document.body.dataset.state = state;
  $("signin-panel").hidden = state !== "signin";
  $("signout").hidden = sessionStorage.getItem(TOKEN_KEY) === null;
}

function render(stats: GlobalStats): void {
  store.add(stats.series, Date.now() / 1000);
  const slot = formatDuration((stats.series?.slot_ms || store.slotMs || 10_000) / 1000);
  for (const el of document.querySelectorAll(".slot")) el.textContent = slot;

  setText("kpi-rps", formatCount(stats.requests_per_s));
  setText("kpi-p50", formatMs(stats.p50_ms));
  setText("kpi-p99", formatMs(stats.p99_ms));
  setText("kpi-errors", formatPct(stats.error_rate));
  setText("kpi-hit", formatPct(stats.cache_hit_rate));
  setText("kpi-total", formatCount(stats.total_requests));
  setText("window", `${formatDuration(stats.window_s)} window`);

  setPill(
    stats.unhealthy_edges ? "bad" : stats.edge_count ? "good" : "idle",
    stats.edge_count === 0
      ? "No edges reporting"
      : stats.unhealthy_edges
      ? `${stats.unhealthy_edges} of ${stats.edge_count} edges unhealthy`
      : `${stats.edge_count === 1 ? "The edge is" : `All ${stats.edge_count} edges`} healthy`,
  );
  setText("updated", `Updated ${new Date().toLocaleTimeString()}`);

  const regions = [...new Set([...store.regions(), ...stats.per_region.map((r) => r.region)])]
    .sort();
  for (const r of regions) styleOf(r);
  const line = (r: string): LineSpec => ({ label: r, ...styleOf(r) });

  const rps = store.perRegion(regions, (r) => r.requestsPerS);
  charts.rps.update(rps.xs, regions.map(line), rps.ys);
  const errors = store.perRegion(
    regions,
    (r) => (r.requestsPerS > 0 ? r.errorsPerS / r.requestsPerS : null),
  );
  charts.errors.update(errors.xs, regions.map(line), errors.ys);
  const hit = store.perRegion(regions, (r) => r.hitRate);
  charts.hit.update(hit.xs, regions.map(line), hit.ys);

  const p99 = store.perRegion(regions, (r) => r.p99Ms);
  const p50 = store.perRegion(regions, (r) => r.p50Ms);
  const latencyLines: LineSpec[] = regions.flatMap((r) => {
    const s = styleOf(r);
    return [
      { label: `${r} p99`, ...s },
      { label: `${r} p50`, color: s.color, dash: s.dash, width: 1.5, alpha: 0.45 },
    ];
  });
  charts.latency.update(
    p99.xs,
    latencyLines,
    regions.flatMap((_, i) => [p99.ys[i], p50.ys[i]]),
  );

  renderAnalytics(stats);
  renderEdges(stats);
  explainEmpty(stats, slot);
  const skipped = stats.skipped.corrupt + stats.skipped.old_format;
  setText(
    "skipped",
    skipped ? `${skipped} unreadable snapshot${skipped === 1 ? "" : "s"} skipped` : "",
  );
}

/** Says on each empty chart, and above them all, what will fill it and when. */
function explainEmpty(stats: GlobalStats, slot: string): void {
  const origin = location.origin;
  const quiet = stats.requests === 0;
  const intro = $("getting-started");
  intro.hidden = !quiet;
  intro.textContent = quiet
    ? `No requests in the last ${formatDuration(stats.window_s)}. The charts fill in as the ` +
      `edges answer traffic, one point per ${slot} slot once the slot has ended, backfilled ` +
      `from every edge's own history. Try: curl ${origin}/api/echo or curl ` +
      `${origin}/cacheable/hello`
    : "";
  const waiting = `Requests have arrived; their ${slot} slot appears here when it ends`;
  charts.rps.setEmptyText(quiet ? "No requests in the window yet" : waiting);
  charts.errors.setEmptyText(quiet ? "No requests in the window yet" : waiting);
  charts.latency.setEmptyText(quiet ? "No requests in the window yet" : waiting);
  charts.hit.setEmptyText(
    `No cacheable lookups yet: GET requests outside /api/* and /_edge/* go through the cache ` +
      `(try ${origin}/cacheable/hello)`,
  );
  charts.analytics.setEmptyText(
    (stats.analytics["outpost_analytics_events_accepted_total"] ?? 0) > 0
      ? `Events were accepted; their ${slot} slot appears here when it ends`
      : "No analytics events yet: POST them to /events on any edge (see the README); each " +
        `appears here once its ${slot} slot has ended`,
  );
}

function renderAnalytics(stats: GlobalStats): void {
  const total = stats.analytics["outpost_analytics_events_accepted_total"] ?? 0;
  setText(
    "events-total",
    total > 0
      ? `${formatCount(total)} event${total === 1 ? "" : "s"} accepted by the live edges so far`
      : "no events accepted yet",
  );
  const names = store.eventNames();
  const lines = store.events(names);
  const any = lines.ys.some((ys) => ys.some((v) => (v ?? 0) > 0));
  const specs = names.map((n, i) => ({
    label: n.replace(/^outpost_analytics_/, "").replace(/_total$/, ""),
    color: PALETTE[(i + 3) % PALETTE.length],
    dash: DASHES[i % DASHES.length],
    width: WIDTHS[Math.min(i, WIDTHS.length - 1)],
  }));
  // Until an event arrives, an all-zero line would hide the explanation.
  if (any) charts.analytics.update(lines.xs, specs, lines.ys);
  else charts.analytics.update([], [], []);
}

function renderEdges(stats: GlobalStats): void {
  const rows = stats.per_edge.map((e) => {
    const ok = e.status === "ok";
    const bad = e.status === "unhealthy";
    const dot = ok ? "good" : bad ? "bad" : "warn";
    return `<tr class="${bad ? "unhealthy" : ""}">
      <td><span class="dot ${dot}"></span>${ok ? "healthy" : esc(e.status)}</td>
      <td><span class="swatch" data-c="${styleOf(e.region).color}"></span>${esc(e.region)}</td>
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
    `<tr><td colspan="11" class="empty">No edge has reported yet: each writes a snapshot to ` +
      `KV every few seconds, and this node's own appears with its first request</td></tr>`;
  // Colours go through CSSOM: the page's CSP allows no inline style attributes.
  for (const el of document.querySelectorAll<HTMLElement>(".swatch[data-c]")) {
    el.style.setProperty("--c", el.dataset.c ?? "");
  }
}

/** Shows the sign-in form with a reason; polling resumes when a token is given. */
function askForToken(why: string, error = ""): void {
  setState("signin");
  setPill("idle", "Sign-in needed");
  setText("signin-why", why);
  const err = $("signin-error");
  err.hidden = error === "";
  err.textContent = error;
  $<HTMLInputElement>("token").focus();
}

let timer: ReturnType<typeof setTimeout> | undefined;

function schedule(ms: number): void {
  clearTimeout(timer);
  timer = setTimeout(poll, ms);
}

async function poll(): Promise<void> {
  const banner = $("error");
  const token = sessionStorage.getItem(TOKEN_KEY);
  try {
    const res = await fetch("/_edge/stats", {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      cache: "no-store",
    });
    type Problem = { code?: string; detail?: string };
    const problem = res.ok ? null : await res.json().catch(() => null) as Problem | null;
    if (problem?.code === "admin_not_configured") {
      setState("closed");
      setPill("bad", "Statistics closed");
      banner.hidden = false;
      banner.textContent = "This node runs in production without ADMIN_TOKEN, so its " +
        "statistics are closed to everyone. Set ADMIN_TOKEN (16 characters or more) in its " +
        "environment and restart it; this page checks again every minute.";
      schedule(60_000);
      return;
    }
    if (res.status === 401 || res.status === 403) {
      banner.hidden = true;
      if (token !== null) sessionStorage.removeItem(TOKEN_KEY);
      askForToken(
        "This node's statistics need its operator token (ADMIN_TOKEN).",
        token !== null
          ? "That token was refused: check it against the node's ADMIN_TOKEN."
          : tokenInUrl
          ? "A token in the address bar is not used (URLs end up in logs); enter it here."
          : "",
      );
      return; // polling resumes on sign-in
    }
    if (!res.ok) throw new Error(`${res.status}: ${problem?.detail ?? res.statusText}`);
    const stats = await res.json() as GlobalStats;
    setState("live");
    render(stats);
    banner.hidden = true;
    schedule(pollMs);
  } catch (error) {
    banner.hidden = false;
    banner.textContent = `Cannot load /_edge/stats (${(error as Error).message}); retrying`;
    schedule(pollMs);
  } finally {
    document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1);
  }
}

$<HTMLFormElement>("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>("token");
  const token = input.value.trim();
  if (token === "") return;
  sessionStorage.setItem(TOKEN_KEY, token);
  input.value = "";
  setState("live");
  poll();
});
$("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(timer);
  poll();
});
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  for (const c of Object.values(charts)) c.rebuild();
});
setText("interval", `refreshes every ${pollMs / 1000} s`);
poll();

/** The simulator's results as text: aligned tables for the terminal, Markdown for the file. */

import type { CityRoute, Routing } from "./routing.ts";
import type { AnalyticsResult } from "./scenario_analytics.ts";
import type { CrdtResult } from "./scenario_crdt.ts";
import { type LatencyResult, type LatencyRow, SCENARIOS } from "./scenario_latency.ts";

type Align = "l" | "r";

/** A table as aligned plain text. */
export function textTable(head: string[], rows: string[][], align: Align[]): string {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => align[i] === "r" ? c.padStart(width[i]) : c.padEnd(width[i])).join("  ")
      .trimEnd();
  return [line(head), width.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** A table as Markdown. */
export function mdTable(head: string[], rows: string[][], align: Align[]): string {
  const esc = (s: string) => s.replaceAll("|", "\\|");
  return [
    `| ${head.map(esc).join(" | ")} |`,
    `| ${align.map((a) => (a === "r" ? "---:" : "---")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : "n/a");

/** The columns of one latency scenario's table. */
export function latencyTable(
  rows: readonly LatencyRow[],
): { head: string[]; body: string[][]; align: Align[] } {
  const head = [
    "city",
    "edge",
    "direct p50",
    "direct p95",
    "edge p50",
    "edge p95",
    "edge/direct",
    "RTT model d/e",
    "edge vs direct",
  ];
  const body = rows.map((r) => [
    r.city,
    r.edge,
    ms(r.direct.p50),
    ms(r.direct.p95),
    ms(r.viaEdge.p50),
    ms(r.viaEdge.p95),
    pct(r.ratio),
    `${r.model.directMs.toFixed(0)}/${r.model.edgeMs.toFixed(0)}`,
    r.verdict === "tie" ? "tie (noise)" : r.verdict,
  ]);
  return { head, body, align: ["l", "l", "r", "r", "r", "r", "r", "r", "l"] };
}

/**
 * Which edge each city used, and where the other routing would differ, with why: the product
 * routes by distance, latency-based DNS by measured RTT, and undersea routes are not great circles.
 */
export function routingLines(routes: readonly CityRoute[], routing: Routing): string[] {
  const used = routing === "geo"
    ? "the product's geo routing (nearest region by geodesic distance)"
    : "the lowest measured RTT";
  const lines = [
    `Edges by ${used}: ${routes.map((r) => `${r.city} → ${r.edge}`).join(", ")}`,
  ];
  const differ = routes.filter((r) => r.geo.edge !== r.rtt.edge);
  for (const r of differ) {
    lines.push(
      `${r.city}: geo routing names ${r.geo.edge} (${r.geo.km.toLocaleString("en")} km, ` +
        `${r.geo.rttMs} ms RTT), the lowest RTT is ${r.rtt.edge} (${
          r.rtt.km.toLocaleString("en")
        } km, ${r.rtt.rttMs} ms): the measured route is faster than the nearer region's, ` +
        `and distance is only a proxy for latency (${
          routing === "geo" ? "--routing rtt" : "--routing geo"
        } uses the other)`,
    );
  }
  if (differ.length === 0) lines.push("Both routings choose the same edge for every city");
  return lines;
}

/** Target lines: Tokyo's warm ratio and every city's warm edge ≤ direct. */
export function targetLines(latency: LatencyResult, edges: readonly string[]): string[] {
  const warm = latency.rows.filter((r) => r.scenario === "warm");
  const tokyo = warm.find((r) => r.city === "Tokyo");
  const lines: string[] = [];
  if (tokyo) {
    const met = tokyo.ratio <= 0.15;
    lines.push(
      `Tokyo, warm cacheable page: through the edge (${tokyo.edge}) ${
        ms(tokyo.viaEdge.p50)
      } ms vs ` +
        `${ms(tokyo.direct.p50)} ms direct = ${pct(tokyo.ratio)} (target ≤ 15%): ` +
        (met ? "MET" : "NOT MET") +
        (met ? "" : ` — with edges in ${edges.join(", ")}, Tokyo's edge is ${tokyo.edge}; ` +
          "the ratio is bounded by the RTT to it (see --extra-region ap-northeast:Tokyo)"),
    );
  }
  const faster = warm.filter((r) => r.verdict === "faster");
  const ties = warm.filter((r) => r.verdict === "tie");
  const slower = warm.filter((r) => r.verdict === "slower");
  const list = (rows: LatencyRow[]) =>
    rows.map((r) => `${r.city} ${ms(r.viaEdge.p50)} vs ${ms(r.direct.p50)} ms via ${r.edge}`).join(
      ", ",
    );
  lines.push(
    `Every city, warm cacheable page: edge faster for ${faster.length} of ${warm.length}` +
      (ties.length ? `; a tie within noise for ${list(ties)}` : "") +
      (slower.length ? `; SLOWER for ${list(slower)}` : "") +
      (ties.length || slower.length
        ? " (a tie is expected where the edge shares the origin's site: same RTT both ways)"
        : ""),
  );
  for (const { id, label } of SCENARIOS.filter((s) => s.id !== "warm")) {
    const rows = latency.rows.filter((r) => r.scenario === id);
    const worse = rows.filter((r) => r.verdict === "slower").map((r) => r.city);
    lines.push(
      `${label}: edge faster or a tie for ${rows.length - worse.length} of ${rows.length} cities` +
        (worse.length
          ? ` (slower for ${worse.join(", ")}: the edge adds its own hop to the origin)`
          : ""),
    );
  }
  return lines;
}

/** CRDT results as lines. */
export function crdtLines(c: CrdtResult): string[] {
  const nodes = Object.entries(c.perNodeMs).map(([n, t]) =>
    `${n} ${t === null ? "never" : `${t} ms`}`
  );
  return [
    `${c.partitioned} cut off from every other node for ${(c.partitionMs / 1000).toFixed(1)} s; ` +
    `${c.writes.increments} increments (sum ${c.writes.total}) and ${c.writes.adds} set adds ` +
    `(${c.writes.distinctElements} distinct elements) from every city through its edge ` +
    `(${Object.entries(c.writes.byNode).map(([n, k]) => `${n} ${k}`).join(", ")} writes)`,
    `Before the heal: ${
      c.beforeHeal.map((b) => `${b.node} ${b.value}/${b.elements}`).join(", ")
    } ` +
    `(counter/set size); the cut-off node held exactly its own users' writes: ${
      c.isolated ? "yes" : "NO"
    }`,
    `Connected nodes agreed among themselves ${
      c.majorityAgreedMs === null
        ? "NOT within the partition"
        : `${c.majorityAgreedMs} ms after the last write`
    }`,
    c.converged
      ? `After the heal every node held counter ${c.writes.total} and all ${c.writes.distinctElements} elements within ${c.convergedMs} ms (${
        nodes.join(", ")
      })`
      : `NOT converged within the timeout (${nodes.join(", ")})`,
    `Sync: every ${c.settings.syncIntervalMs} ms, timeout ${c.settings.syncTimeoutMs} ms, ` +
    `back-off capped at ${c.settings.syncMaxBackoffMs} ms`,
  ];
}

/** Analytics results as lines. */
export function analyticsLines(a: AnalyticsResult): string[] {
  return [
    `${a.events.sent} events posted from every city, ${a.events.accepted} accepted ` +
    `(${Object.entries(a.events.byEdge).map(([n, k]) => `${n} ${k}`).join(", ")})`,
    `Bytes: ${a.rawBytes} raw event JSON in, ${a.summaryBytes} gzip summary bytes to central ` +
    `(${a.reduction}× less); on the wire with HTTP headers ${a.wire.clientsToEdges} vs ` +
    `${a.wire.edgesToCentral} (${a.wire.reduction}× less)`,
    `Central totals ${a.central.total_events} ${
      a.exact ? "=" : "≠"
    } ${a.events.accepted} accepted` +
    ` (per edge: ${Object.entries(a.central.by_edge).map(([n, k]) => `${n} ${k}`).join(", ")})` +
    (a.deliveredMs !== null
      ? `, exact ${a.deliveredMs} ms after the last batch`
      : ", NOT exact in time"),
  ];
}

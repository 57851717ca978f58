/**
 * Bandwidth reduction of edge aggregation: 100,000 events from 1,000 users over 10
 * event types are POSTed to an edge in batches of 100 (in process, `:memory:` KV, manual clock),
 * the intervals are closed and their gzip summaries delivered to the node's own collector; the
 * node's metrics give raw bytes received and summary bytes sent. Two workloads: every event in
 * one 60-second interval, and the same events spread over ten intervals.
 * Usage: deno run -A bench/analytics_bandwidth.ts  (writes bench/results/analytics_bandwidth.*)
 */

import { createApp } from "../lib/core/app.ts";
import { ManualClock } from "../lib/core/clock.ts";
import { loadConfig } from "../lib/core/config.ts";
import { writeResult } from "./lib/report.ts";

/** One workload's figures. */
export interface BandwidthRow {
  workload: string;
  events: number;
  intervals: number;
  receivedBytes: number;
  sentBytes: number;
  reduction: number;
  centralTotal: number;
}

const TYPES = [
  "page_view",
  "click",
  "scroll",
  "add_to_cart",
  "remove_from_cart",
  "checkout",
  "purchase",
  "search",
  "signup",
  "video_play",
];

/** A seeded PRNG (mulberry32), so every run sends the same events. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeBatch(start: number, size: number, ts: number): string {
  const events = [];
  const next = random(start + 1);
  for (let i = start; i < start + size; i++) {
    const user = Math.floor(next() * 1000);
    events.push({
      user_id: `user-${String(user).padStart(4, "0")}`,
      event_type: TYPES[Math.floor(next() * TYPES.length)],
      timestamp: ts,
      properties: { path: `/products/${i % 500}`, session: `s-${user}-${i % 3}` },
    });
  }
  return JSON.stringify({ events });
}

/** Runs one workload: `events` events spread evenly over `intervals` 60-second intervals. */
export async function measureBandwidth(events = 100_000, intervals = 1): Promise<BandwidthRow> {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const config = loadConfig({
    env: { KV_PATH: ":memory:", DEMO_ORIGIN: "off", ORIGIN_URL: "http://127.0.0.1:1" },
    module: { analytics: { flushSeconds: 60 } },
  });
  const edge = createApp({ config, kv, clock });
  const a = edge.analytics.edge!;
  const perInterval = Math.ceil(events / intervals);
  let sent = 0;
  try {
    for (let k = 0; k < intervals; k++) {
      clock.set(Date.UTC(2026, 0, 1) + k * 60_000 + 1000);
      for (let i = 0; i < perInterval && sent < events; i += 100) {
        const size = Math.min(100, perInterval - i, events - sent);
        const res = await edge.fetch(
          new Request("http://edge.local/events", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: makeBatch(sent, size, clock.now()),
          }),
        );
        if (res.status !== 202) throw new Error(`POST /events: ${res.status} ${await res.text()}`);
        await res.body?.cancel();
        sent += size;
      }
    }
    clock.advance(120_000);
    await a.tick();
    const bw = a.bandwidth();
    const central = await edge.analytics.central!.stats(0);
    return {
      workload: `${
        events.toLocaleString("en")
      } events, 1,000 users, 10 types, ${intervals} interval(s)`,
      events: bw.events_received,
      intervals,
      receivedBytes: bw.received_bytes,
      sentBytes: bw.sent_bytes,
      reduction: bw.sent_bytes > 0 ? bw.received_bytes / bw.sent_bytes : 0,
      centralTotal: central.total_events,
    };
  } finally {
    await edge.close();
    kv.close();
  }
}

/** The results as Markdown. */
export function bandwidthMarkdown(rows: BandwidthRow[]): string {
  return [
    "### Analytics bandwidth reduction: raw event bytes in vs gzip summary bytes out",
    "",
    "| workload | events accepted | raw bytes received | summary bytes sent (gzip) | reduction | central total |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) =>
      `| ${r.workload} | ${r.events} | ${r.receivedBytes} | ${r.sentBytes} | ${
        r.reduction.toFixed(1)
      }× | ${r.centralTotal} |`
    ),
    "",
    "- Target: ≥ 100× fewer bytes to central than received. Summaries carry counts per event type",
    "  and per (user, event type); raw events carry a timestamp and two properties each.",
  ].join("\n");
}

if (import.meta.main) {
  const rows = [await measureBandwidth(100_000, 1), await measureBandwidth(100_000, 10)];
  const md = bandwidthMarkdown(rows);
  const path = await writeResult("analytics_bandwidth", rows, md);
  console.log(md);
  console.log(`\nwritten: ${path}`);
}

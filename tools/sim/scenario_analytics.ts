/**
 * Analytics from every city: users post batches of events to their edge; each edge
 * aggregates them per interval and sends gzip summaries to the central collector (in us-east,
 * over its WAN link). The scenario compares the bytes that reached the edges with the bytes sent
 * to central, both as the edges count them and as the links carried them, and checks that the
 * collector's totals equal the events the edges accepted, per edge and in all.
 */

import { bodyText, SimClient } from "./http_client.ts";
import type { City } from "./latency.ts";
import { Progress } from "./progress.ts";
import { geoHeaders, slug } from "./scenario_latency.ts";
import { SECRETS, type Topology } from "./topology.ts";

/** Options for {@linkcode runAnalytics}. */
export interface AnalyticsOptions {
  cities: readonly City[];
  batchesPerCity: number;
  eventsPerBatch: number;
  usersPerCity: number;
  /** Give up waiting for the collector's totals after this long. */
  timeoutMs: number;
  /** Once exact, look again this much later (a flush interval): a duplicate would show. */
  settleMs: number;
}

/** One edge's own bandwidth report (`GET /events/bandwidth`). */
export interface EdgeBandwidth {
  region: string;
  events_received: number;
  received_bytes: number;
  summaries_delivered: number;
  sent_bytes: number;
}

/** The scenario's results. */
export interface AnalyticsResult {
  events: { sent: number; accepted: number; byEdge: Record<string, number> };
  /** JSON bytes of the event batches posted. */
  rawBytes: number;
  /** Summary bytes (gzip) the edges sent, by their own count. */
  summaryBytes: number;
  /** rawBytes / summaryBytes. */
  reduction: number;
  /** What the WAN links carried, HTTP headers included. */
  wire: { clientsToEdges: number; edgesToCentral: number; reduction: number };
  edges: EdgeBandwidth[];
  central: { total_events: number; by_edge: Record<string, number> };
  /** Central totals equal the events accepted, in all and per edge. */
  exact: boolean;
  /** From the last accepted batch until the collector's totals were exact (null: timed out). */
  deliveredMs: number | null;
  errors: string[];
}

const TYPES = ["page_view", "click", "scroll", "search", "add_to_cart", "purchase"];

function batch(city: string, b: number, size: number, users: number): string {
  const events = Array.from({ length: size }, (_, i) => {
    const k = b * size + i;
    return {
      user_id: `${city}-user-${(k * 7) % users}`,
      event_type: TYPES[(k * 5 + b) % TYPES.length],
      properties: { path: `/products/${k % 40}`, referrer: k % 3 === 0 ? "search" : "direct" },
    };
  });
  return JSON.stringify({ events });
}

async function centralStats(url: string): Promise<AnalyticsResult["central"]> {
  const res = await fetch(`${url}/_central/stats?intervals=0`, {
    headers: { authorization: `Bearer ${SECRETS.central}` },
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`/_central/stats: ${res.status} ${JSON.stringify(body)}`);
  return { total_events: body.total_events, by_edge: body.by_edge };
}

/** Runs the scenario. */
export async function runAnalytics(topo: Topology, o: AnalyticsOptions): Promise<AnalyticsResult> {
  const progress = new Progress("analytics", o.cities.length * o.batchesPerCity + 1);
  const errors: string[] = [];
  const before = await centralStats(topo.centralUrl);
  const wireBefore = topo.edges.map((e) => ({
    in: [...e.fromCity.values()].reduce((n, l) => n + l.bytes().up, 0),
    out: e.toCentral.bytes().up,
  }));
  const byEdge: Record<string, number> = Object.fromEntries(topo.edges.map((e) => [e.region, 0]));
  let sent = 0;
  let rawBytes = 0;

  await Promise.all(o.cities.map(async (city) => {
    const edge = topo.edgeFor(city);
    const port = edge.fromCity.get(city.name)!.port;
    const client = new SimClient();
    for (let b = 0; b < o.batchesPerCity; b++) {
      const body = batch(slug(city.name), b, o.eventsPerBatch, o.usersPerCity);
      sent += o.eventsPerBatch;
      rawBytes += new TextEncoder().encode(body).length;
      try {
        const res = await client.request(port, {
          method: "POST",
          path: "/events",
          headers: { ...geoHeaders(city), "content-type": "application/json" },
          body,
        });
        if (res.status !== 202) {
          throw new Error(`status ${res.status}: ${bodyText(res).slice(0, 200)}`);
        }
        byEdge[edge.region] += Number(JSON.parse(bodyText(res)).accepted);
      } catch (error) {
        if (errors.length < 20) errors.push(`${city.name} batch ${b}: ${(error as Error).message}`);
      }
      progress.tick(1, `${city.name} → ${edge.region}`);
    }
  }));
  const postedAt = performance.now();
  const accepted = Object.values(byEdge).reduce((a, b) => a + b, 0);

  progress.note("waiting for the summaries to reach central");
  let central = await centralStats(topo.centralUrl);
  const delta = () => ({
    total_events: central.total_events - before.total_events,
    by_edge: Object.fromEntries(
      topo.edges.map((e) => {
        const id = Object.keys(central.by_edge).find((k) => k.startsWith(`${e.region}/`));
        const was = id ? before.by_edge[id] ?? 0 : 0;
        return [e.region, (id ? central.by_edge[id] : 0) - was];
      }),
    ),
  });
  const isExact = () => {
    const d = delta();
    return d.total_events === accepted &&
      topo.edges.every((e) => d.by_edge[e.region] === byEdge[e.region]);
  };
  let deliveredMs: number | null = null;
  while (performance.now() - postedAt < o.timeoutMs) {
    if (isExact()) {
      deliveredMs = Math.round(performance.now() - postedAt);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
    central = await centralStats(topo.centralUrl);
  }
  let exact = deliveredMs !== null;
  if (exact) {
    progress.note("exact; checking that nothing more arrives");
    await new Promise((r) => setTimeout(r, o.settleMs));
    central = await centralStats(topo.centralUrl);
    exact = isExact();
  }
  const edges: EdgeBandwidth[] = await Promise.all(topo.edges.map(async (e) => {
    const b = await (await fetch(`${e.url}/events/bandwidth`)).json();
    return {
      region: e.region,
      events_received: b.events_received,
      received_bytes: b.received_bytes,
      summaries_delivered: b.summaries_delivered,
      sent_bytes: b.sent_bytes,
    };
  }));
  const summaryBytes = edges.reduce((n, e) => n + e.sent_bytes, 0);
  const wireIn = topo.edges.reduce(
    (n, e, i) =>
      n + [...e.fromCity.values()].reduce((m, l) => m + l.bytes().up, 0) - wireBefore[i].in,
    0,
  );
  const wireOut = topo.edges.reduce((n, e, i) => n + e.toCentral.bytes().up - wireBefore[i].out, 0);
  progress.done(
    exact
      ? `central total ${accepted} = events accepted, after ${deliveredMs} ms`
      : `central total ${delta().total_events} ≠ ${accepted} accepted`,
  );
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    events: { sent, accepted, byEdge },
    rawBytes,
    summaryBytes,
    reduction: r(rawBytes / Math.max(1, summaryBytes)),
    wire: {
      clientsToEdges: wireIn,
      edgesToCentral: wireOut,
      reduction: r(wireIn / Math.max(1, wireOut)),
    },
    edges,
    central: delta(),
    exact,
    deliveredMs,
    errors,
  };
}

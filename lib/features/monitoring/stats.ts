/**
 * Global statistics: every node's snapshot read from KV and merged. Counts add up; percentiles
 * come from the merged histograms (never averaged); a corrupt, old-format or expired snapshot is
 * skipped and counted, never fatal.
 */

import { LatencyHistogram } from "../../core/histogram.ts";
import { cacheHitRate } from "./health.ts";
import { snapshotKey, snapshotPrefix } from "./keys.ts";
import {
  decodeSnapshot,
  MAX_SNAPSHOT_BYTES,
  type NodeSnapshot,
  type SkipReason,
  unpackHistogram,
} from "./snapshot.ts";
import type { EdgeStats, GlobalStats, GroupStats, StatsSeries } from "./stats_types.ts";
import { coarsePercentiles } from "./slot_latency.ts";
import { Field, FIELD_COUNT } from "./window.ts";

export type { EdgeStats, GlobalStats, GroupStats, StatsSeries };

/** At most this many snapshots are read per request. */
const MAX_NODES = 1000;

/** Writes a node's snapshot with `expireIn` so a dead node drops out on its own. */
export async function writeSnapshot(kv: Deno.Kv, snapshot: NodeSnapshot): Promise<void> {
  const size = JSON.stringify(snapshot).length;
  if (size > MAX_SNAPSHOT_BYTES) {
    throw new RangeError(`Snapshot too large for one KV value: ${size} bytes`);
  }
  const key = snapshotKey(snapshot.region, snapshot.node_id);
  const result = await kv.set(key, snapshot, { expireIn: snapshot.ttl_ms });
  if (!result.ok) throw new Error(`Snapshot write failed: ${key.join("/")}`);
}

/** Removes a node's snapshot (on shutdown, so it drops out at once). */
export async function deleteSnapshot(kv: Deno.Kv, region: string, nodeId: string): Promise<void> {
  await kv.delete(snapshotKey(region, nodeId));
}

/** Live snapshots and what was skipped. */
export interface SnapshotRead {
  snapshots: NodeSnapshot[];
  skipped: Record<SkipReason, number>;
}

/**
 * Reads every live snapshot (at most {@linkcode MAX_NODES}), eventually consistent: snapshots
 * are seconds old by nature, so the nearest replica serves (Deno Deploy's KV).
 */
export async function readSnapshots(kv: Deno.Kv, now: number): Promise<SnapshotRead> {
  const snapshots: NodeSnapshot[] = [];
  const skipped: Record<SkipReason, number> = { corrupt: 0, old_format: 0, expired: 0 };
  const options = { limit: MAX_NODES, consistency: "eventual" as const };
  for await (const entry of kv.list({ prefix: snapshotPrefix() }, options)) {
    const decoded = decodeSnapshot(entry.value, now);
    if ("skip" in decoded) {
      skipped[decoded.skip]++;
      continue;
    }
    const [, region, nodeId] = entry.key;
    if (decoded.snapshot.region !== region || decoded.snapshot.node_id !== nodeId) {
      skipped.corrupt++;
      continue;
    }
    snapshots.push(decoded.snapshot);
  }
  return { snapshots, skipped };
}

function round(n: number | null, digits = 3): number | null {
  if (n === null || !Number.isFinite(n)) return null;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * Requests per second over the last minute of complete slots (fewer when the window is shorter
 * or the node younger than that).
 */
function recentRate(s: NodeSnapshot, lastComplete: number): number {
  const { first, slot_ms, requests } = s.window.slots;
  const lived = Math.ceil((s.at - s.started_at) / slot_ms);
  const slots = Math.max(1, Math.min(Math.round(60_000 / slot_ms), requests.length - 1, lived));
  let sum = 0;
  for (let e = lastComplete - slots + 1; e <= lastComplete; e++) sum += requests[e - first] ?? 0;
  return sum / (slots * slot_ms / 1000);
}

function group(snapshots: readonly NodeSnapshot[]): Omit<GroupStats, "requests_per_s"> {
  const counts = new Float64Array(FIELD_COUNT);
  const latency = new LatencyHistogram();
  for (const s of snapshots) {
    for (let f = 0; f < FIELD_COUNT; f++) counts[f] += s.window.counts[f];
    latency.addEncoded(unpackHistogram(s.window.latency), s.window.sum_us, s.window.max_us);
  }
  const requests = counts[Field.requests];
  return {
    requests,
    error_rate: requests === 0 ? null : round(counts[Field.errors] / requests, 6),
    avg_latency_ms: round(latency.mean()),
    p50_ms: round(latency.percentile(50)),
    p95_ms: round(latency.percentile(95)),
    p99_ms: round(latency.percentile(99)),
    cache_hit_rate: round(cacheHitRate(counts), 6),
  };
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

function series(snapshots: readonly NodeSnapshot[]): StatsSeries | null {
  if (snapshots.length === 0) return null;
  const slotMs = snapshots[0].window.slots.slot_ms;
  const perS = 1000 / slotMs;
  const same = snapshots.filter((s) => s.window.slots.slot_ms === slotMs);
  const last = Math.max(...same.map((s) => s.window.slots.first + s.window.slots.requests.length));
  const length = Math.max(...same.map((s) => s.window.slots.requests.length));
  const first = last - length;
  const complete = Math.min(...same.map((s) => Math.floor(s.at / slotMs) - 1)) - first;
  const zeros = () => new Array<number>(length).fill(0);
  const sums = new Map<string, {
    requests: number[];
    errors: number[];
    hits: number[];
    lookups: number[];
    latency: number[][][];
  }>();
  const events: Record<string, number[]> = {};
  for (const s of same) {
    const slots = s.window.slots;
    let r = sums.get(s.region);
    if (r === undefined) {
      r = {
        requests: zeros(),
        errors: zeros(),
        hits: zeros(),
        lookups: zeros(),
        latency: Array.from({ length }, () => []),
      };
      sums.set(s.region, r);
    }
    for (let i = 0; i < slots.requests.length; i++) {
      const k = slots.first + i - first;
      if (k < 0 || k >= length) continue;
      r.requests[k] += slots.requests[i];
      r.errors[k] += slots.errors[i] ?? 0;
      r.hits[k] += slots.hits?.[i] ?? 0;
      r.lookups[k] += slots.lookups?.[i] ?? 0;
      const packed = slots.latency?.[i];
      if (packed) r.latency[k].push(unpackHistogram(packed));
      for (const [name, values] of Object.entries(slots.events ?? {})) {
        (events[name] ??= zeros())[k] += (values[i] ?? 0) * perS;
      }
    }
  }
  const regions: StatsSeries["regions"] = {};
  for (const [region, r] of sums) {
    const p50: Array<number | null> = [];
    const p99: Array<number | null> = [];
    for (const histograms of r.latency) {
      const [a, b] = coarsePercentiles(histograms, [50, 99]);
      p50.push(a);
      p99.push(b);
    }
    regions[region] = {
      requests_per_s: r.requests.map((n) => n * perS),
      errors_per_s: r.errors.map((n) => n * perS),
      cache_hit_rate: r.hits.map((h, k) => (r.lookups[k] > 0 ? round6(h / r.lookups[k]) : null)),
      p50_ms: p50,
      p99_ms: p99,
    };
  }
  return { slot_ms: slotMs, start: first * slotMs, complete, regions, events_per_s: events };
}

/** Merges live snapshots into the global picture at `now`. */
export function mergeSnapshots(read: SnapshotRead, now: number): GlobalStats {
  const snapshots = [...read.snapshots].sort((a, b) =>
    a.region.localeCompare(b.region) || a.node_id.localeCompare(b.node_id)
  );
  const s = series(snapshots);
  const lastComplete = (x: NodeSnapshot) => Math.floor(x.at / x.window.slots.slot_ms) - 1;
  const overall = snapshots.map((x) => ({ x, last: lastComplete(x) }));
  const all = groupOf(overall);
  const regions = [...new Set(snapshots.map((x) => x.region))];
  const analytics: Record<string, number> = {};
  let total = 0;
  for (const x of snapshots) {
    total += x.totals[Field.requests];
    for (const [name, value] of Object.entries(x.counters)) {
      analytics[name] = (analytics[name] ?? 0) + value;
    }
  }
  return {
    generated_at: new Date(now).toISOString(),
    window_s: snapshots.length ? snapshots[0].window.ms / 1000 : 0,
    total_requests: total,
    ...all,
    edge_count: snapshots.length,
    unhealthy_edges: snapshots.filter((x) => x.health.status === "unhealthy").length,
    per_region: regions.map((region) => {
      const members = overall.filter((o) => o.x.region === region);
      return {
        region,
        edges: members.length,
        unhealthy: members.filter((o) => o.x.health.status === "unhealthy").length,
        ...groupOf(members),
      };
    }),
    per_edge: overall.map(({ x }) => ({
      node_id: x.node_id,
      region: x.region,
      status: x.health.status,
      reasons: x.health.reasons,
      total_requests: x.totals[Field.requests],
      uptime_s: Math.max(0, Math.round((x.at - x.started_at) / 1000)),
      age_s: Math.max(0, Math.round((now - x.at) / 1000)),
      ...groupOf([{ x, last: lastComplete(x) }]),
    })),
    series: s,
    analytics,
    skipped: read.skipped,
  };
}

function groupOf(members: ReadonlyArray<{ x: NodeSnapshot; last: number }>): GroupStats {
  // Each node's rate is taken over its own last complete minute, then summed.
  let rate = 0;
  for (const m of members) rate += recentRate(m.x, m.last);
  return { ...group(members.map((m) => m.x)), requests_per_s: round(rate, 3)! };
}

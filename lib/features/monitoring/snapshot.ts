/**
 * A node's compact snapshot for global statistics: lifetime totals, the sliding window (counts,
 * an encoded latency histogram and requests per slot), its health and the analytics counters.
 * Stored in KV by each node and merged by `/_edge/stats`; the schema guards what older or other
 * versions may have written.
 */

import { z } from "zod";
import { BUCKET_COUNT, LatencyHistogram } from "../../core/histogram.ts";
import type { HealthVerdict } from "./health.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import { checkCoarse, COARSE_BUCKETS } from "./slot_latency.ts";
import { FIELD_COUNT, type SlidingWindow } from "./window.ts";

/** The format version written now; others are skipped as old. */
const SNAPSHOT_VERSION = 1;
/** Counters with this prefix travel in snapshots (analytics event counts). */
const SHARED_COUNTER_PREFIX = "outpost_analytics_";
/** A snapshot stays well under KV's 64 KiB value limit (checked when written). */
export const MAX_SNAPSHOT_BYTES = 60 * 1024;

const count = z.number().finite().min(0);
const counts = z.array(count).length(FIELD_COUNT);

/** The stored shape of a snapshot. */
const SnapshotSchema = z.object({
  v: z.literal(SNAPSHOT_VERSION),
  node_id: z.string().min(1).max(64),
  region: z.string().min(1).max(64),
  at: z.number().int().min(0),
  ttl_ms: z.number().int().min(1),
  started_at: z.number().int().min(0),
  health: z.object({
    status: z.enum(["ok", "degraded", "unhealthy"]),
    reasons: z.array(z.string().max(500)).max(10),
  }),
  totals: counts,
  window: z.object({
    ms: z.number().int().min(1),
    counts,
    sum_us: count,
    max_us: count,
    /** The latency histogram, `gap:count` pairs in base 36 joined by commas. */
    latency: z.string().max(BUCKET_COUNT * 24),
    slots: z.object({
      first: z.number().int(),
      slot_ms: z.number().int().min(1),
      requests: z.array(count).max(3600),
      errors: z.array(count).max(3600),
      // Optional: nodes of an older version leave them out, and their charts stay empty.
      /** Cache hits and lookups that could hit, per slot. */
      hits: z.array(count).max(3600).optional(),
      lookups: z.array(count).max(3600).optional(),
      /** Each slot's coarse latency histogram, packed like `latency` ("" when empty or left out). */
      latency: z.array(z.string().max(COARSE_BUCKETS * 17)).max(3600).optional(),
      /** Analytics events per slot, by counter name. */
      events: z.record(z.string().max(200), z.array(count).max(3600)).optional(),
    }),
  }),
  counters: z.record(z.string().max(200), count),
});
/** A node's snapshot. */
export type NodeSnapshot = z.infer<typeof SnapshotSchema>;

/**
 * The latency histograms of the newest slots are kept while their packed text fits this budget;
 * older slots go without (a long window's history is trimmed, the snapshot stays one KV value).
 */
export const SLOT_LATENCY_BUDGET = 24 * 1024;

/** Analytics counters whose per-slot increments travel in snapshots (events, not bytes). */
export const EVENT_COUNTER = /^outpost_analytics_(?:[a-z0-9]+_)*events(?:_[a-z0-9]+)*_total$/;

/** What a snapshot is built from. */
export interface SnapshotSource {
  nodeId: string;
  region: string;
  now: number;
  ttlMs: number;
  startedAt: number;
  window: SlidingWindow;
  health: HealthVerdict;
  metrics: MetricsRegistry;
  /** Analytics events per slot for slots `first … first + count - 1`, by counter name. */
  eventSlots?: (first: number, count: number) => Record<string, number[]>;
}

/** Packs the newest slots' histograms while they fit {@linkcode SLOT_LATENCY_BUDGET}. */
function packSlotLatency(latency: readonly number[][]): string[] {
  const out = new Array<string>(latency.length).fill("");
  let used = 0;
  for (let i = latency.length - 1; i >= 0; i--) {
    const packed = packHistogram(latency[i]);
    used += packed.length + 3;
    if (used > SLOT_LATENCY_BUDGET) break;
    out[i] = packed;
  }
  return out;
}

/** Builds this node's snapshot at `source.now`. */
export function buildSnapshot(source: SnapshotSource): NodeSnapshot {
  const { window, now } = source;
  const total = window.total(now);
  const series = window.series(now);
  const counters: Record<string, number> = {};
  for (const family of source.metrics.families()) {
    if (family.type !== "counter" || !family.name.startsWith(SHARED_COUNTER_PREFIX)) continue;
    counters[family.name] = family.series.reduce((sum, s) => sum + s.value, 0);
  }
  return {
    v: SNAPSHOT_VERSION,
    node_id: source.nodeId,
    region: source.region,
    at: now,
    ttl_ms: source.ttlMs,
    started_at: source.startedAt,
    health: { status: source.health.status, reasons: source.health.reasons.slice(0, 10) },
    totals: [...window.lifetime],
    window: {
      ms: window.windowMs,
      counts: [...total.counts],
      sum_us: Math.max(0, total.latency.sumMicros),
      max_us: total.latency.maxMicros,
      latency: packHistogram(total.latency.encode()),
      slots: {
        first: series.firstEpoch,
        slot_ms: series.slotMs,
        requests: series.requests,
        errors: series.errors,
        hits: series.hits,
        lookups: series.lookups,
        latency: packSlotLatency(series.latency),
        events: source.eventSlots?.(series.firstEpoch, series.requests.length) ?? {},
      },
    },
    counters,
  };
}

/** `[gap, count, …]` as `gap:count,…` in base 36 (a third of the bytes of a number array). */
function packHistogram(encoded: readonly number[]): string {
  const parts: string[] = [];
  for (let k = 0; k < encoded.length; k += 2) {
    parts.push(`${encoded[k].toString(36)}:${encoded[k + 1].toString(36)}`);
  }
  return parts.join(",");
}

const PAIR = /^([0-9a-z]{1,4}):([0-9a-z]{1,11})$/;

/** The inverse of {@linkcode packHistogram}; throws a `RangeError` on malformed text. */
export function unpackHistogram(packed: string): number[] {
  if (packed === "") return [];
  const out: number[] = [];
  for (const part of packed.split(",")) {
    const m = PAIR.exec(part);
    if (!m) throw new RangeError(`Invalid histogram pair: ${part.slice(0, 30)}`);
    out.push(parseInt(m[1], 36), parseInt(m[2], 36));
  }
  return out;
}

/** Why a stored snapshot was not used. */
export type SkipReason = "corrupt" | "old_format" | "expired";

/** Checks a stored value: the snapshot, or why it is skipped. */
export function decodeSnapshot(
  value: unknown,
  now: number,
): { snapshot: NodeSnapshot } | { skip: SkipReason } {
  const version = typeof value === "object" && value !== null
    ? (value as { v?: unknown }).v
    : undefined;
  if (version !== SNAPSHOT_VERSION) {
    return { skip: typeof version === "number" ? "old_format" : "corrupt" };
  }
  const parsed = SnapshotSchema.safeParse(value);
  if (!parsed.success) return { skip: "corrupt" };
  const snapshot = parsed.data;
  const slots = snapshot.window.slots;
  const length = slots.requests.length;
  const sameLength = (a: readonly unknown[] | undefined) => a === undefined || a.length === length;
  if (
    slots.errors.length !== length || !sameLength(slots.hits) || !sameLength(slots.lookups) ||
    !sameLength(slots.latency) || !Object.values(slots.events ?? {}).every(sameLength)
  ) {
    return { skip: "corrupt" };
  }
  try {
    new LatencyHistogram().addEncoded(unpackHistogram(snapshot.window.latency), 0);
    for (const packed of slots.latency ?? []) checkCoarse(unpackHistogram(packed));
  } catch {
    return { skip: "corrupt" };
  }
  // KV's expireIn is only a lower bound: an expired value can still be read.
  if (snapshot.at + snapshot.ttl_ms <= now) return { skip: "expired" };
  return { snapshot };
}

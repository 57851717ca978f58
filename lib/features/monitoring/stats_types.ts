/**
 * The shape of `GET /_edge/stats`, shared by the server and the dashboard's browser code (so it
 * imports nothing from Deno).
 */

/** Figures for a group of nodes (all, one region, or one node). */
export interface GroupStats {
  requests: number;
  requests_per_s: number;
  error_rate: number | null;
  avg_latency_ms: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  cache_hit_rate: number | null;
}

/** One node in `per_edge`. */
export interface EdgeStats extends GroupStats {
  node_id: string;
  region: string;
  status: "ok" | "degraded" | "unhealthy";
  reasons: string[];
  total_requests: number;
  uptime_s: number;
  age_s: number;
}

/** One region's figures per slot, oldest first (`null`: nothing to measure in that slot). */
export interface RegionSeries {
  requests_per_s: number[];
  errors_per_s: number[];
  /** Hits over lookups that could hit, per slot. */
  cache_hit_rate: Array<number | null>;
  /** Percentiles of the slot's requests from merged coarse histograms (within 6.25%). */
  p50_ms: Array<number | null>;
  p99_ms: Array<number | null>;
}

/** The window slot by slot, for charts: what every node kept, merged per region. */
export interface StatsSeries {
  slot_ms: number;
  /** Time (ms since the epoch) at which the first slot starts. */
  start: number;
  /** Slots up to and including this index are complete in every snapshot. */
  complete: number;
  regions: Record<string, RegionSeries>;
  /** Analytics events per second per slot, all edges, by counter name. */
  events_per_s: Record<string, number[]>;
}

/** The answer of `GET /_edge/stats`. */
export interface GlobalStats extends GroupStats {
  generated_at: string;
  window_s: number;
  total_requests: number;
  edge_count: number;
  unhealthy_edges: number;
  per_region: Array<GroupStats & { region: string; edges: number; unhealthy: number }>;
  per_edge: EdgeStats[];
  series: StatsSeries | null;
  analytics: Record<string, number>;
  skipped: Record<"corrupt" | "old_format" | "expired", number>;
}

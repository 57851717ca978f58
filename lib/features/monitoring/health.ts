/**
 * Turning the sliding window into a verdict: the figures "now" (error rates, percentiles, cache
 * hit rate) and healthy or not against configured thresholds, with the reasons in words. The
 * error rate judged is the edge's own 5xx; an origin's 5xx passed through are the origin's.
 */

import { Field, type WindowCell } from "./window.ts";

/** When a node counts as unhealthy. */
export interface HealthThresholds {
  maxErrorRate: number;
  maxP99Ms: number;
  minRequests: number;
  /** What the window's latency is (`metrics.health.latency`); `total` when absent. */
  latency?: "total" | "edge";
  /** Judge every 5xx, passed-through ones too (`metrics.health.countOriginErrors`). */
  countOriginErrors?: boolean;
}

/** The window's figures. Rates are fractions (0–1); `null` when there is nothing to divide. */
export interface WindowSummary {
  window_s: number;
  requests: number;
  errors: number;
  edge_errors: number;
  origin_errors: number;
  error_rate: number | null;
  edge_error_rate: number | null;
  origin_error_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
  cache: {
    hit: number;
    stale: number;
    revalidated: number;
    miss: number;
    expired: number;
    bypass: number;
  };
  cache_hit_rate: number | null;
  denied: { "401": number; "403": number; "429": number };
}

/** A health status: `degraded` serves (200) with something off; `unhealthy` answers 503. */
export type HealthStatus = "ok" | "degraded" | "unhealthy";

/** A health verdict. */
export interface HealthVerdict {
  status: HealthStatus;
  reasons: string[];
  /** True when the window held fewer than `minRequests` requests (judged healthy). */
  insufficient_data: boolean;
}

function round(n: number | null, digits: number): number | null {
  if (n === null) return null;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Hits (fresh, stale or revalidated) over lookups that could hit; bypasses left out. */
export function cacheHitRate(counts: ArrayLike<number>): number | null {
  const hits = counts[Field.cacheHit] + counts[Field.cacheStale] + counts[Field.cacheRevalidated];
  const lookups = hits + counts[Field.cacheMiss] + counts[Field.cacheExpired];
  return lookups === 0 ? null : hits / lookups;
}

/** The figures of a window cell (latencies rounded to µs, rates to 6 digits). */
export function summarize(cell: WindowCell, windowMs: number): WindowSummary {
  const c = cell.counts;
  const requests = c[Field.requests];
  const h = cell.latency;
  return {
    window_s: windowMs / 1000,
    requests,
    errors: c[Field.errors],
    edge_errors: c[Field.edgeErrors],
    origin_errors: c[Field.originErrors],
    error_rate: requests === 0 ? null : round(c[Field.errors] / requests, 6),
    edge_error_rate: requests === 0 ? null : round(c[Field.edgeErrors] / requests, 6),
    origin_error_rate: requests === 0 ? null : round(c[Field.originErrors] / requests, 6),
    p50_ms: round(h.percentile(50), 3),
    p95_ms: round(h.percentile(95), 3),
    p99_ms: round(h.percentile(99), 3),
    mean_ms: round(h.mean(), 3),
    cache: {
      hit: c[Field.cacheHit],
      stale: c[Field.cacheStale],
      revalidated: c[Field.cacheRevalidated],
      miss: c[Field.cacheMiss],
      expired: c[Field.cacheExpired],
      bypass: c[Field.cacheBypass],
    },
    cache_hit_rate: round(cacheHitRate(c), 6),
    denied: { "401": c[Field.status401], "403": c[Field.status403], "429": c[Field.status429] },
  };
}

/**
 * Healthy unless the error rate or p99 reaches its threshold (with enough requests to judge).
 * The error rate is of 5xx made by the edge, or of every 5xx with `countOriginErrors`.
 */
export function judge(s: WindowSummary, t: HealthThresholds): HealthVerdict {
  if (s.requests < t.minRequests || s.requests === 0) {
    return { status: "ok", reasons: [], insufficient_data: true };
  }
  const reasons: string[] = [];
  const rate = t.countOriginErrors ? s.error_rate : s.edge_error_rate;
  if (rate !== null && rate >= t.maxErrorRate) {
    reasons.push(
      t.countOriginErrors
        ? `error rate ${pct(rate)} ≥ ${pct(t.maxErrorRate)} ` +
          `(${s.errors} of ${s.requests} requests in the last ${s.window_s} s)`
        : `edge error rate ${pct(rate)} ≥ ${pct(t.maxErrorRate)} ` +
          `(${s.edge_errors} 5xx made by the edge of ${s.requests} requests in the last ` +
          `${s.window_s} s)`,
    );
  }
  if (s.p99_ms !== null && s.p99_ms >= t.maxP99Ms) {
    const what = t.latency === "edge" ? "p99 edge latency (origin wait excluded)" : "p99 latency";
    reasons.push(`${what} ${s.p99_ms.toFixed(1)} ms ≥ ${t.maxP99Ms} ms`);
  }
  return { status: reasons.length ? "unhealthy" : "ok", reasons, insufficient_data: false };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
}

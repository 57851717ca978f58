/** `Cache-Status` members (RFC 9211) and `Deno-CDN-Cache-Control` values for served entries. */

import type { Decision } from "./freshness.ts";
import type { MemoryItem } from "./memory.ts";

/** Whole seconds, rounded toward zero, for `Age` and `ttl`. */
export function wholeSeconds(ms: number): number {
  return ms >= 0 ? Math.floor(ms / 1000) : -Math.floor(-ms / 1000);
}

/** `Outpost; hit; ttl=N` with an optional detail (e.g. stale-while-revalidate). */
export function hitStatus(ttlMs: number, detail?: string): string {
  const base = `Outpost; hit; ttl=${wholeSeconds(ttlMs)}`;
  return detail ? `${base}; detail=${detail}` : base;
}

/** `Outpost; fwd=<why>; fwd-status=<status>[; stored][; collapsed][; ttl=N][; detail=…]`. */
export function fwdStatus(
  fwd: "miss" | "stale" | "request" | "vary-miss" | "bypass" | "method",
  o: {
    status?: number | null;
    stored?: boolean;
    collapsed?: boolean;
    ttlMs?: number;
    detail?: string;
  },
): string {
  let out = `Outpost; fwd=${fwd}`;
  if (o.status !== undefined && o.status !== null) out += `; fwd-status=${o.status}`;
  if (o.stored) out += "; stored";
  if (o.collapsed) out += "; collapsed";
  if (o.ttlMs !== undefined) out += `; ttl=${wholeSeconds(o.ttlMs)}`;
  if (o.detail) out += `; detail=${o.detail}`;
  return out;
}

/** The RFC 9211 `fwd` reason for a fill, from the decision that led to it. */
export function fwdReason(decision: Decision | null): "miss" | "stale" | "request" {
  if (decision === null) return "miss";
  return decision.detail === "request-no-cache" || decision.detail === "request-max-age" ||
      decision.detail === "min-fresh"
    ? "request"
    : "stale";
}

/**
 * The `Deno-CDN-Cache-Control` value for a stored response served fresh: the configured literal,
 * or with `derive` the edge's own remaining lifetime and windows. Nothing for `off` or stale.
 */
export function denoCdnValue(setting: string, item: MemoryItem, ttlMs: number): string | null {
  if (setting === "off" || ttlMs <= 0 || item.entry.timing.noCache) return null;
  if (setting !== "derive") return setting;
  const t = item.entry.timing;
  let value = `public, max-age=${wholeSeconds(ttlMs)}`;
  if (t.swrMs > 0) value += `, stale-while-revalidate=${wholeSeconds(t.swrMs)}`;
  if (t.sieMs > 0) value += `, stale-if-error=${wholeSeconds(t.sieMs)}`;
  return value;
}

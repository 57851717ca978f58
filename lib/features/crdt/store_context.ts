/** What the KV persistence of CRDTs shares: the database, the replica, limits and metrics. */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { Counter, MetricsRegistry } from "../../core/metrics.ts";
import type { HybridClock } from "./hlc.ts";
import type { CrdtType } from "./keys.ts";

/** Limits on what local operations may do. */
export interface CrdtLimits {
  maxStep: number;
  maxSetElements: number;
  maxRegisterBytes: number;
}

/** Counters the store records into. */
export interface CrdtMetrics {
  ops: Counter;
  conflicts: Counter;
  merges: Counter;
  invalid: Counter;
}

/** Registers the CRDT metrics (idempotent per registry). */
export function crdtMetrics(registry: MetricsRegistry): CrdtMetrics {
  return {
    ops: registry.counter("outpost_crdt_ops_total", "Local CRDT operations, by type and op"),
    conflicts: registry.counter(
      "outpost_crdt_cas_conflicts_total",
      "KV commits that lost a race and were retried, by type",
    ),
    merges: registry.counter(
      "outpost_crdt_merges_total",
      "Remote states merged into KV, by type and whether anything changed",
    ),
    invalid: registry.counter(
      "outpost_crdt_invalid_kv_total",
      "KV entries of the CRDT area that failed validation and were skipped",
    ),
  };
}

/** Everything a store function needs. */
export interface StoreContext {
  kv: Deno.Kv;
  clock: Clock;
  replica: string;
  hlc: HybridClock;
  limits: CrdtLimits;
  logRetentionMs: number;
  metrics: CrdtMetrics;
  log: Logger;
}

/** Thrown for a local operation the limits do not allow (answered 409). */
export class CrdtLimitError extends Error {
  readonly type: CrdtType;

  constructor(type: CrdtType, message: string) {
    super(message);
    this.name = "CrdtLimitError";
    this.type = type;
  }
}

/** Reports a KV entry that failed validation: logged and counted, then skipped. */
export function reportInvalid(ctx: StoreContext, type: CrdtType, key: Deno.KvKey): void {
  ctx.metrics.invalid.inc({ type });
  ctx.log.warn("invalid crdt entry in kv skipped", { type, key: JSON.stringify(key) });
}

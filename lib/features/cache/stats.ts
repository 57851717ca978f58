/** The cache's metrics (`outpost_cache_*`) and its logging of faults, in one place. */

import type { Logger } from "../../core/log.ts";
import type { BoundCounter, Counter, Gauge, MetricsRegistry } from "../../core/metrics.ts";
import type { FillResult } from "./fill.ts";
import type { KvCommitKind } from "./kv_store.ts";
import type { MemoryTier } from "./memory.ts";
import type { CacheOutcome } from "./respond.ts";

/** Repeated faults of one kind are logged at most this often. */
const LOG_EVERY_MS = 10_000;

/** Counters, gauges and throttled fault logs of the cache. */
export class CacheStats {
  readonly #requests: Counter;
  /** `outpost_cache_requests_total` per outcome, bound on first use (served on every request). */
  readonly #served: Partial<Record<CacheOutcome, BoundCounter>> = {};
  readonly #fills: Counter;
  readonly #kvErrors: Counter;
  readonly #invalid: Counter;
  readonly #torn: Counter;
  readonly #sie: Counter;
  readonly #background: Counter;
  readonly #purgeSync: Counter;
  readonly #replays: Counter;
  readonly #passes: Counter;
  #passed: BoundCounter | null = null;
  readonly #kvRemoved: Counter;
  readonly #kvRemovedBytes: Counter;
  readonly #kvUsed: Gauge;
  readonly #kvSkipped: Counter;
  readonly #kvCommits: Counter;
  readonly #commits: Partial<Record<KvCommitKind, BoundCounter>> = {};
  readonly #kvBudget: Gauge;
  readonly #memoryBytes: Gauge;
  readonly #memoryItems: Gauge;
  readonly #memory: MemoryTier;
  readonly #log: Logger;
  readonly #lastLog = new Map<string, number>();

  constructor(metrics: MetricsRegistry, memory: MemoryTier, log: Logger) {
    this.#memory = memory;
    this.#log = log;
    this.#requests = metrics.counter(
      "outpost_cache_requests_total",
      "Cached-path requests, by X-Cache outcome",
    );
    this.#fills = metrics.counter("outpost_cache_fills_total", "Origin fills, by mode and result");
    this.#kvErrors = metrics.counter(
      "outpost_cache_kv_errors_total",
      "Failed KV operations, by operation (the request was still answered)",
    );
    this.#invalid = metrics.counter(
      "outpost_cache_kv_invalid_values_total",
      "KV values that did not parse (treated as misses)",
    );
    this.#torn = metrics.counter(
      "outpost_cache_torn_reads_total",
      "KV entries whose body chunks were missing or the wrong length",
    );
    this.#sie = metrics.counter(
      "outpost_cache_stale_if_error_total",
      "Stale responses served because the origin failed",
    );
    this.#background = metrics.counter(
      "outpost_cache_background_failures_total",
      "Background revalidations that failed",
    );
    this.#purgeSync = metrics.counter(
      "outpost_cache_purge_sync_failures_total",
      "Failed purge log replays or watch errors",
    );
    this.#replays = metrics.counter(
      "outpost_cache_purge_replays_total",
      "Purge log records replayed on this node",
    );
    this.#passes = metrics.counter(
      "outpost_cache_hit_for_pass_total",
      "Requests sent straight to the origin because their URL answered uncacheable lately",
    );
    this.#kvRemoved = metrics.counter(
      "outpost_cache_kv_evictions_total",
      "Entries taken out of KV by this node: budget (to make room) or expired (time up)",
    );
    this.#kvRemovedBytes = metrics.counter(
      "outpost_cache_kv_evicted_bytes_total",
      "Bytes those entries were counted for, by reason",
    );
    this.#kvSkipped = metrics.counter(
      "outpost_cache_kv_writes_skipped_total",
      "Fills kept out of KV (memory only): budget (no room could be made), backlog (too many " +
        "writes waiting)",
    );
    this.#kvCommits = metrics.counter(
      "outpost_cache_kv_commits_total",
      "Atomic KV commits the cache made, by what they were for (reserve, publish, chunks, " +
        "update, lease, release, remove, delete_body, purge, reconcile)",
    );
    this.#kvUsed = metrics.gauge(
      "outpost_cache_kv_bytes",
      "Bytes the KV tier holds by its usage counters, as this node last read them",
    );
    this.#kvBudget = metrics.gauge("outpost_cache_kv_budget_bytes", "The KV tier's byte budget");
    this.#memoryBytes = metrics.gauge(
      "outpost_cache_memory_bytes",
      "Bytes held by the memory tier",
    );
    this.#memoryItems = metrics.gauge(
      "outpost_cache_memory_items",
      "Items held by the memory tier",
    );
    metrics.gauge("outpost_cache_memory_budget_bytes", "The memory tier's byte budget").set(
      memory.maxBytes,
    );
  }

  /** One atomic KV commit the cache made (what it writes to KV, and so what KV costs). */
  kvCommitted(kind: KvCommitKind): void {
    (this.#commits[kind] ??= this.#kvCommits.bind({ kind })).inc();
  }

  /** One response with this outcome. */
  served(outcome: CacheOutcome): void {
    (this.#served[outcome] ??= this.#requests.bind({ outcome })).inc();
  }

  /** One fill finished. */
  filled(mode: string, result: FillResult): void {
    const kind = result.kind === "entry"
      ? (result.fwdStatus === null ? "remote" : result.stored ? "stored" : "not_stored")
      : result.kind;
    this.#fills.inc({ mode, result: kind });
    this.memoryChanged();
  }

  /** Entries left KV (evicted for room, or swept once expired). */
  kvRemoved(reason: string, entries: number, bytes: number): void {
    this.#kvRemoved.inc({ reason }, entries);
    this.#kvRemovedBytes.inc({ reason }, bytes);
  }

  /** A fill was kept out of KV. */
  kvSkipped(reason: "budget" | "backlog"): void {
    this.#kvSkipped.inc({ reason });
  }

  /** The KV tier's usage as last read. */
  kvUsed(bytes: number | null): void {
    if (bytes !== null) this.#kvUsed.set(bytes);
  }

  /** The KV tier's budget. */
  kvBudget(bytes: number): void {
    this.#kvBudget.set(bytes);
  }

  /** One request passed to the origin by a hit-for-pass mark. */
  passed(): void {
    (this.#passed ??= this.#passes.bind()).inc();
  }

  /** Refreshes the memory gauges. */
  memoryChanged(): void {
    this.#memoryBytes.set(this.#memory.bytes);
    this.#memoryItems.set(this.#memory.count);
  }

  /** A KV operation failed; the request goes on without it. */
  kvError(op: string, error: unknown): void {
    this.#kvErrors.inc({ op });
    this.#throttled("warn", `kv:${op}`, "cache KV operation failed", { op, error });
  }

  /** A KV value did not parse. */
  invalidKv(key: Deno.KvKey, reason: string): void {
    this.#invalid.inc();
    this.#throttled("warn", "invalid", "cache KV value is invalid; treated as a miss", {
      key: key.map(String).join("/").slice(0, 200),
      reason,
    });
  }

  /** A KV entry's body was incomplete. */
  tornRead(): void {
    this.#torn.inc();
  }

  /** A stale response was served because the origin failed. */
  staleIfError(): void {
    this.#sie.inc();
    this.served("STALE");
  }

  /** A background revalidation failed. */
  backgroundFailed(urlKey: string, error: unknown): void {
    this.#background.inc();
    this.#throttled("warn", "background", "background revalidation failed", {
      key: urlKey.slice(0, 200),
      error,
    });
  }

  /** A purge replay or the watch failed. */
  purgeSyncFailed(error: unknown): void {
    this.#purgeSync.inc();
    this.#throttled("error", "purge-sync", "purge log replay failed", { error });
  }

  /** Purge records replayed (`dropped` -1: the whole tier was dropped). */
  replayed(records: number, _dropped: number): void {
    this.#replays.inc(undefined, records);
    this.memoryChanged();
  }

  #throttled(
    level: "warn" | "error",
    kind: string,
    msg: string,
    fields: Record<string, unknown>,
  ): void {
    const now = performance.now();
    const last = this.#lastLog.get(kind);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    this.#lastLog.set(kind, now);
    this.#log[level](msg, fields);
  }
}

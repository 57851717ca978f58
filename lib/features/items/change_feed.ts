/**
 * How a node learns of writes made anywhere: it watches the items head key (`kv.watch`, which
 * reports latest states, not every change; every write changes the head in its own commit) and,
 * on each report and on a polling interval as a fallback, lists the change records since its
 * cursor with a strong read and evicts what they supersede.
 *
 * The cache is trusted while either holds: the last completed refresh started less than
 * `maxStalenessMs` ago (any write older than that start has been applied), or the watch is live
 * and a refresh started after it went live has completed (everything before the watch was
 * applied, everything since is reported by it). While the watch is live, polling slows to
 * `watchedPollMs` (a safety net; each poll is a KV list, which Deno Deploy bills); when it breaks,
 * the bound falls back to the last refresh and polling to its normal interval. Past the bound,
 * reads bypass the cache and go to KV with strong consistency.
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import type { ItemCache } from "./item_cache.ts";
import type { ItemStore } from "./item_store.ts";
import { itemsHeadKey } from "./keys.ts";

/** Change records commit within this long of the time they carry. */
export const SETTLE_MS = 1_000;

/** Options for {@linkcode ChangeFeed}. */
export interface ChangeFeedOptions {
  kv: Deno.Kv;
  store: ItemStore;
  cache: ItemCache;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  maxStalenessMs: number;
  retentionMs: number;
}

/** Applies change records to the cache. */
export class ChangeFeed {
  readonly #o: ChangeFeedOptions;
  /** Every change record before this time (ms) has been applied. */
  #cursor: number;
  /** Latest change versionstamp per item, kept for `retentionMs` (guards eventual reads). */
  readonly #recent = new Map<string, { versionstamp: string; at: number }>();
  #lastRefreshStartedAt: number | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #watch: ReadableStreamDefaultReader<unknown> | null = null;
  #stopped = false;
  /** When the current watch delivered its first state (null while no watch is live). */
  #watchLiveSince: number | null = null;

  constructor(options: ChangeFeedOptions) {
    this.#o = options;
    this.#cursor = options.clock.now();
  }

  /**
   * True while the cache may be served: the last refresh started within the bound, or the watch
   * is live and a refresh started since it went live.
   */
  healthy(): boolean {
    const start = this.#lastRefreshStartedAt;
    if (start === null) return false;
    const live = this.#watchLiveSince;
    if (live !== null && start >= live) return true;
    return this.#o.clock.now() - start < this.#o.maxStalenessMs;
  }

  /** True while a watch is delivering. */
  get watching(): boolean {
    return this.#watchLiveSince !== null;
  }

  /**
   * The polling job's run: a refresh, unless the watch is live and one started within
   * `watchedPollMs` (then nothing, and no KV read).
   */
  poll(watchedPollMs: number): Promise<void> {
    const start = this.#lastRefreshStartedAt;
    if (
      this.#watchLiveSince !== null && start !== null && start >= this.#watchLiveSince &&
      this.#o.clock.now() - start < watchedPollMs
    ) return Promise.resolve();
    return this.refresh();
  }

  /** The versionstamp of the latest change seen for `id`, if recent. */
  latestChange(id: string): string | undefined {
    return this.#recent.get(id)?.versionstamp;
  }

  /** Refreshes now; a call during a refresh schedules one more after it (coalesced). */
  refresh(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#refreshOnce();
        } while (this.#again);
      } finally {
        this.#running = null;
      }
    })();
    return this.#running;
  }

  /** Refreshes in the background (from the watch, or a read that found the feed stale). */
  trigger(via: "watch" | "read"): void {
    // Reads while KV is failing must not each start a refresh (and a log line).
    if (via === "read" && this.#running) return;
    this.refresh().catch((error) =>
      this.#o.log.warn("item change feed refresh failed", { via, error })
    );
  }

  async #refreshOnce(): Promise<void> {
    const startedAt = this.#o.clock.now();
    let invalidated = 0;
    for await (const change of this.#o.store.changes(this.#cursor - SETTLE_MS)) {
      const known = this.#recent.get(change.id);
      if (!known || known.versionstamp < change.versionstamp) {
        this.#recent.set(change.id, { versionstamp: change.versionstamp, at: change.at });
      }
      if (this.#o.cache.invalidate(change.id, change.versionstamp)) invalidated++;
    }
    this.#cursor = Math.max(this.#cursor, startedAt - SETTLE_MS);
    this.#lastRefreshStartedAt = Math.max(this.#lastRefreshStartedAt ?? 0, startedAt);
    for (const [id, r] of this.#recent) {
      if (r.at < startedAt - this.#o.retentionMs) this.#recent.delete(id);
    }
    if (invalidated > 0) {
      this.#o.metrics.counter(
        "outpost_items_invalidations_total",
        "Cached items evicted by changes",
      )
        .inc(undefined, invalidated);
    }
  }

  /** Starts watching the head key; a broken watch is logged, counted and restarted. */
  start(): void {
    if (this.#watch || this.#stopped) return;
    void this.#watchLoop();
  }

  async #watchLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        const reader = this.#o.kv.watch([itemsHeadKey()]).getReader();
        this.#watch = reader;
        while (!this.#stopped) {
          const { done } = await reader.read();
          if (done) break;
          failures = 0;
          // The first report is the head's current state: the watch is subscribed from here on.
          this.#watchLiveSince ??= this.#o.clock.now();
          this.trigger("watch");
        }
        this.#watchLiveSince = null;
      } catch (error) {
        this.#watchLiveSince = null;
        if (this.#stopped) break;
        failures++;
        this.#o.metrics.counter("outpost_items_watch_failures_total", "kv.watch streams that broke")
          .inc();
        this.#o.log.warn("item watch failed; polling covers until it is back", { failures, error });
      }
      if (!this.#stopped) {
        await new Promise((r) => setTimeout(r, Math.min(30_000, 100 * 2 ** Math.min(failures, 8))));
      }
    }
  }

  /** Stops the watch. */
  stop(): void {
    this.#stopped = true;
    this.#watchLiveSince = null;
    this.#watch?.cancel().catch(() => {});
    this.#watch = null;
  }
}

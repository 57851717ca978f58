/**
 * Items read at the edge and written to the center: `get` answers from this node's memory
 * when the change feed is fresh, else from the central copy in KV (an eventual read, checked
 * against the newest change the feed has seen for the item); `put` and `delete` write the
 * central copy atomically and publish a change record that every node's feed applies.
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import { type CachedItem, ItemCache } from "./item_cache.ts";
import { ItemStore, type Preconditions, type StoredItem } from "./item_store.ts";
import { ChangeFeed } from "./change_feed.ts";

/** Options for {@linkcode Items}. */
export interface ItemsOptions {
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  maxStalenessMs: number;
  changeRetentionMs: number;
  cacheMaxEntries: number;
  cacheMaxBytes: number;
}

/** A read's answer: the item (null when absent) and where it came from. */
export interface ItemRead {
  item: CachedItem | null;
  source: "edge" | "central";
}

function toCached(item: StoredItem | null, versionstamp: string): CachedItem {
  return item
    ? { etag: item.etag, updatedAt: item.updatedAt, text: item.text, versionstamp }
    : { etag: null, updatedAt: null, text: null, versionstamp };
}

/** The items service of one node. */
export class Items {
  readonly store: ItemStore;
  readonly cache: ItemCache;
  readonly feed: ChangeFeed;
  readonly #metrics: MetricsRegistry;

  constructor(options: ItemsOptions) {
    const invalid = options.metrics.counter(
      "outpost_items_invalid_kv_total",
      "Item entries in KV that failed validation",
    );
    this.store = new ItemStore(options.kv, options.clock, options.changeRetentionMs, (key) => {
      invalid.inc();
      options.log.warn("invalid item entry in kv skipped", { key: JSON.stringify(key) });
    });
    this.cache = new ItemCache({
      maxEntries: options.cacheMaxEntries,
      maxBytes: options.cacheMaxBytes,
      ttlMs: options.changeRetentionMs,
    });
    this.feed = new ChangeFeed({
      kv: options.kv,
      store: this.store,
      cache: this.cache,
      clock: options.clock,
      log: options.log,
      metrics: options.metrics,
      maxStalenessMs: options.maxStalenessMs,
      retentionMs: options.changeRetentionMs,
    });
    this.#metrics = options.metrics;
  }

  #count(source: string, outcome: string): void {
    this.#metrics.counter("outpost_items_reads_total", "Item reads, by source and outcome")
      .inc({ source, outcome });
  }

  /**
   * The answer from this node's memory, when the change feed is fresh and the item (or its
   * absence) is cached; undefined otherwise. Synchronous, so a hit costs no promise.
   */
  cached(id: string): ItemRead | undefined {
    if (!this.feed.healthy()) return undefined;
    const hit = this.cache.get(id);
    if (!hit) return undefined;
    this.#count("edge", hit.text === null ? "absent" : "hit");
    return { item: hit.text === null ? null : hit, source: "edge" };
  }

  /** Reads an item for a client: from memory when possible, else from the central copy. */
  async get(id: string): Promise<ItemRead> {
    const hit = this.cached(id);
    if (hit) return hit;
    const fresh = this.feed.healthy();
    if (!fresh) this.feed.trigger("read");
    // With a fresh feed an eventual read is enough unless the feed knows of a newer write;
    // with a stale feed only a strong read keeps the bound.
    let read = await this.store.read(id, fresh ? "eventual" : "strong");
    let strong = !fresh;
    const newer = this.feed.latestChange(id);
    if (fresh && newer !== undefined && read.versionstamp < newer) {
      this.#count("central", "stale_replica");
      read = await this.store.read(id, "strong");
      strong = true;
    }
    let versionstamp = read.versionstamp;
    // A strong read started after the feed saw the deletion: the absence is that new.
    if (strong && read.item === null && newer !== undefined && newer > versionstamp) {
      versionstamp = newer;
    }
    const cached = toCached(read.item, versionstamp);
    // Checked again after the await: the feed may have seen a newer change meanwhile.
    const latest = this.feed.latestChange(id);
    if (fresh && (latest === undefined || latest <= versionstamp)) this.cache.set(id, cached);
    this.#count("central", read.item ? "hit" : "absent");
    return { item: read.item ? cached : null, source: "central" };
  }

  /** Writes an item's JSON text to the central copy; this node's cache gets it at once. */
  async put(
    id: string,
    text: string,
    pre: Preconditions,
  ): Promise<StoredItem & { created: boolean }> {
    const written = await this.store.write(id, text, pre);
    this.cache.set(id, toCached(written, written.versionstamp));
    this.#metrics.counter("outpost_items_writes_total", "Item writes, by op").inc({ op: "put" });
    return written;
  }

  /** Deletes an item; false when there was none. */
  async delete(id: string, pre: Preconditions): Promise<boolean> {
    const versionstamp = await this.store.delete(id, pre);
    if (versionstamp === null) return false;
    this.cache.set(id, toCached(null, versionstamp));
    this.#metrics.counter("outpost_items_writes_total", "Item writes, by op").inc({ op: "delete" });
    return true;
  }
}

/**
 * The node's memory tier for items: an LRU bounded by entries and bytes. Each entry remembers
 * the versionstamp of the read that filled it, so an invalidation only evicts what is older than
 * the change, and absent items are cached too (a write's change record evicts them).
 */

import { LRUCache } from "../../platform/vendor/lru_cache.ts";

/** A cached item, or a cached absence (`text === null`). */
export interface CachedItem {
  etag: string | null;
  updatedAt: number | null;
  text: string | null;
  /** Versionstamp of the KV read ("" for an absent item never written). */
  versionstamp: string;
}

/** The memory cache of items. */
export class ItemCache {
  readonly #lru: LRUCache<string, CachedItem>;

  /**
   * `ttlMs` is a backstop only (invalidation is the change feed's job): an entry whose change
   * record was somehow never seen cannot outlive the records' retention.
   */
  constructor(options: { maxEntries: number; maxBytes: number; ttlMs: number }) {
    this.#lru = new LRUCache({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      ttl: options.ttlMs,
      sizeCalculation: (item, id) => 96 + id.length * 2 + (item.text?.length ?? 0) * 2,
    });
  }

  /** The entry for `id` (marks it recently used). */
  get(id: string): CachedItem | undefined {
    return this.#lru.get(id);
  }

  /** Stores an entry unless a newer one is already there. */
  set(id: string, item: CachedItem): void {
    const current = this.#lru.peek(id);
    if (current && current.versionstamp > item.versionstamp) return;
    this.#lru.set(id, item);
  }

  /** Evicts `id` if its entry is older than `versionstamp`; true when it did. */
  invalidate(id: string, versionstamp: string): boolean {
    const current = this.#lru.peek(id);
    if (!current || current.versionstamp >= versionstamp) return false;
    this.#lru.delete(id);
    return true;
  }

  /** Entries held. */
  get size(): number {
    return this.#lru.size;
  }

  /** Drops everything. */
  clear(): void {
    this.#lru.clear();
  }
}

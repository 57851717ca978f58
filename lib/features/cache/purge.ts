/**
 * Purging by URL and by tag, everywhere: the node that receives a purge removes (or, soft,
 * marks stale) the entries in KV and its own memory, then records the purge in the KV purge log.
 * Every node replays that log to drop its memory copies, triggered by `kv.watch` on the log's
 * head and, as a fallback, by a polling job (slowed to a safety net while the watch delivers).
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { cachePurgeHeadKey, kvSlot } from "./keys.ts";
import type { KvStore } from "./kv_store.ts";
import type { MemoryTier } from "./memory.ts";
import {
  appendPurges,
  purgeHead,
  type PurgeRecord,
  purgesAfter,
  splitRecord,
} from "./purge_log.ts";

/** What one purge did. */
export interface PurgeSummary {
  /** Entries removed (or marked stale) in KV. */
  entries: number;
  /** Items dropped from this node's memory tier. */
  memory: number;
  /** The purge log's sequence number after this purge. */
  seq: string;
}

/** Collaborators of a {@linkcode Purger}. */
export interface PurgerOptions {
  kv: Deno.Kv;
  store: KvStore;
  memory: MemoryTier;
  clock: Clock;
  log: Logger;
  region: string;
  /** Called with the number of items dropped when another node's purge is replayed. */
  onReplay?: (records: number, dropped: number) => void;
}

/** Purges and replays purges. */
export class Purger {
  readonly #o: PurgerOptions;
  /** The last purge log entry applied to memory; null until the first sync. */
  #seen: bigint | null = null;
  #syncing: Promise<void> | null = null;
  #reader: ReadableStreamDefaultReader<unknown> | null = null;
  #closed = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** When the current watch delivered its first state (null while no watch is live). */
  #watchLiveSince: number | null = null;
  /** When the last sync started (null before the first). */
  #lastSyncAt: number | null = null;

  constructor(options: PurgerOptions) {
    this.#o = options;
  }

  /** Purges URL keys and tags, hard (deleted) or soft (stale from now, kept for stale-if-error). */
  async purge(urlKeys: string[], tags: string[], soft: boolean): Promise<PurgeSummary> {
    const { memory, store, clock } = this.#o;
    const now = clock.now();
    memory.epoch++;
    let dropped = 0;
    for (const key of urlKeys) dropped += memory.deleteUrl(key);
    for (const tag of tags) dropped += memory.deleteTag(tag);
    let entries = 0;
    for (const key of urlKeys) {
      const { url } = await kvSlot(key, "");
      for (const slot of await store.slotsOfUrl(url)) {
        if (await store.purgeSlot(slot, { soft, now })) entries++;
      }
    }
    for (const tag of tags) {
      for (const slot of await store.slotsOfTag(tag)) {
        if (await store.purgeSlot(slot, { soft, now })) entries++;
        if (!soft) await store.deleteTagIndex(tag, slot);
      }
    }
    const record: PurgeRecord = { urls: urlKeys, tags, soft, at: now, region: this.#o.region };
    const seq = await appendPurges(this.#o.kv, splitRecord(record));
    // Fills that started before the purge must not land in memory after it.
    memory.epoch++;
    return { entries, memory: dropped, seq: seq.toString() };
  }

  /**
   * Replays purges recorded since the last sync (from any node) on this node's memory tier. The
   * first sync only learns where the log is, dropping whatever memory holds (it may predate it).
   */
  sync(): Promise<void> {
    if (this.#syncing) return this.#syncing;
    const startedAt = this.#o.clock.now();
    this.#syncing = this.#sync().then(() => {
      this.#lastSyncAt = Math.max(this.#lastSyncAt ?? 0, startedAt);
    }).finally(() => (this.#syncing = null));
    return this.#syncing;
  }

  /** True while a watch on the purge log is delivering. */
  get watching(): boolean {
    return this.#watchLiveSince !== null;
  }

  /**
   * The polling job's run: a sync, unless the watch is live and a sync started since it went
   * live, within `watchedPollMs` (then nothing, and no KV read).
   */
  poll(watchedPollMs: number): Promise<void> {
    const live = this.#watchLiveSince;
    const last = this.#lastSyncAt;
    if (
      live !== null && last !== null && last >= live &&
      this.#o.clock.now() - last < watchedPollMs
    ) return Promise.resolve();
    return this.sync();
  }

  async #sync(): Promise<void> {
    const { kv, memory } = this.#o;
    if (this.#seen === null) {
      const head = await purgeHead(kv);
      memory.epoch++;
      memory.clear();
      this.#seen = head;
      return;
    }
    const head = await purgeHead(kv);
    if (head <= this.#seen) return;
    const { records, gap } = await purgesAfter(kv, this.#seen);
    memory.epoch++;
    const first = records[0]?.seq;
    if (gap || first === undefined || first !== this.#seen + 1n || records.some((r) => !r.record)) {
      this.#o.log.warn("purge log has a gap; dropping the whole memory tier", {
        seen: this.#seen.toString(),
        head: head.toString(),
      });
      memory.clear();
      this.#seen = head;
      this.#o.onReplay?.(records.length, -1);
      return;
    }
    let dropped = 0;
    for (const { seq, record } of records) {
      for (const key of record!.urls) dropped += memory.deleteUrl(key);
      for (const tag of record!.tags) dropped += memory.deleteTag(tag);
      this.#seen = seq;
    }
    this.#o.onReplay?.(records.length, dropped);
  }

  /** Starts watching the purge log's head (each change triggers a sync). */
  start(onError: (error: unknown) => void): void {
    if (this.#closed || this.#reader) return;
    const watch = async () => {
      try {
        const stream = this.#o.kv.watch([cachePurgeHeadKey()]);
        const reader = stream.getReader();
        this.#reader = reader;
        while (!this.#closed) {
          const { done } = await reader.read();
          if (done) break;
          // The first report is the head's current state: subscribed from here on.
          this.#watchLiveSince ??= this.#o.clock.now();
          await this.sync().catch(onError);
        }
      } catch (error) {
        if (!this.#closed) onError(error);
      } finally {
        this.#reader = null;
        this.#watchLiveSince = null;
      }
      // The watch ended without being closed: the polling job covers the gap; try again later.
      if (!this.#closed) this.#retry = setTimeout(() => void watch(), 1000 + Math.random() * 1000);
    };
    void watch();
  }

  /** Stops the watch. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#reader?.cancel().catch(() => {});
    await this.#syncing?.catch(() => {});
  }
}

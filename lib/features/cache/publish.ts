/** Publishing fill results to KV and forgetting what the origin no longer lets us keep. */

import type { Clock } from "../../core/clock.ts";
import type { StoredEntry } from "./entry.ts";
import { kvSlot } from "./keys.ts";
import type { KvStore, MetaRead } from "./kv_store.ts";
import type { MemoryItem, MemoryTier } from "./memory.ts";

/** KV writes of fills run at most this many at a time per isolate; the next ones wait. */
const WRITE_CONCURRENCY = 4;
/**
 * Fills waiting for a KV write hold their bodies: beyond this many bytes waiting, a fill stays in
 * memory only, so that a flood of new URLs cannot queue without bound.
 */
const WRITE_BACKLOG_BYTES = 32 * 1024 * 1024;

/** Collaborators of a {@linkcode Publisher}. */
export interface PublisherOptions {
  store: KvStore;
  memory: MemoryTier;
  clock: Clock;
  kvError(op: string, error: unknown): void;
  /** A fill was not written to KV because too many writes were waiting. */
  kvSkipped?(reason: "backlog"): void;
}

/** Writes what fills produce; KV failures are reported, never thrown. */
export class Publisher {
  readonly #o: PublisherOptions;
  #writing = 0;
  #waitingBytes = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(options: PublisherOptions) {
    this.#o = options;
  }

  /** A write slot for `bytes`; false when the backlog is full (the write is then skipped). */
  async #acquire(bytes: number): Promise<boolean> {
    if (this.#writing < WRITE_CONCURRENCY) {
      this.#writing++;
      return true;
    }
    if (this.#waitingBytes + bytes > WRITE_BACKLOG_BYTES) return false;
    this.#waitingBytes += bytes;
    // The slot is handed over by `#release`, still counted in `#writing`.
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#waitingBytes -= bytes;
    return true;
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#writing--;
  }

  /** Writes a new entry to KV, guarded by what was read before the fill. */
  async publish(
    entry: StoredEntry,
    body: Uint8Array,
    read: MetaRead,
    purgeVs: string | null,
    targetVariant: string | null,
  ): Promise<void> {
    const o = this.#o;
    if (!(await this.#acquire(body.byteLength))) {
      o.kvSkipped?.("backlog");
      return;
    }
    try {
      const slot = await kvSlot(entry.key, entry.variant);
      let metaVs = read.versionstamp;
      let previous = read.value?.kind === "entry" ? read.value.entry : null;
      if (entry.variant !== (targetVariant ?? "")) {
        const current = await o.store.readMeta(slot);
        metaVs = current.versionstamp;
        previous = current.value?.kind === "entry" ? current.value.entry : null;
      }
      const now = o.clock.now();
      await o.store.write(slot, entry, body, {
        expireIn: o.store.expireIn(entry.timing, now),
        now,
        guard: { metaVersionstamp: metaVs, purgeVersionstamp: purgeVs },
        previous,
      });
    } catch (error) {
      o.kvError("write", error);
    } finally {
      this.#release();
    }
  }

  /** Updates an entry's metadata in KV after a 304, keeping its body. */
  async updateKv(entry: StoredEntry, body: Uint8Array): Promise<void> {
    const o = this.#o;
    try {
      const slot = await kvSlot(entry.key, entry.variant);
      const current = await o.store.readMeta(slot);
      if (current.value?.kind !== "entry" || current.versionstamp === null) return;
      if (current.value.entry.version !== entry.version) return; // replaced meanwhile
      // The chunks and the budget index are KV's, whatever the memory copy says.
      const stored = current.value.entry;
      const now = o.clock.now();
      await o.store.updateMeta(slot, { ...entry, chunks: stored.chunks, kv: stored.kv }, body, {
        expireIn: o.store.expireIn(entry.timing, now),
        now,
        versionstamp: current.versionstamp,
      });
    } catch (error) {
      o.kvError("write", error);
    }
  }

  /** Forgets a stored response the origin no longer lets us keep. */
  async drop(stale: MemoryItem): Promise<void> {
    const o = this.#o;
    const { key, variant } = stale.entry;
    o.memory.delete(variant === "" ? key : `${key}\u0000${variant}`);
    try {
      await o.store.purgeSlot(await kvSlot(key, variant), { soft: false, now: o.clock.now() });
    } catch (error) {
      o.kvError("delete", error);
    }
  }
}

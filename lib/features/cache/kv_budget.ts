/**
 * The KV tier's byte budget, shared by every isolate and region through KV itself: two
 * monotonic `sum` counters (bytes ever counted in, bytes ever counted out) and an index of every
 * stored entry by the instant it stops being servable. A write reserves its bytes in the counter
 * first, and over budget evicts the soonest-expiring entries down to a low-water mark (or gives
 * up, when what fills the budget is other writes in flight); a sweep removes entries whose time
 * is up (KV's own `expireIn` is only a lower bound and never updates the counters), and now and
 * then recounts the index to correct any drift.
 */

import { cacheIndexPrefix, cacheUsageKey } from "./keys.ts";

/** What removing one index entry found. */
export type RemoveOutcome = "entry" | "orphan" | "gone";

/** Why entries left the KV tier. */
export type RemoveReason = "budget" | "expired";

/** An index entry's value: the bytes its entry was counted for. */
export interface IndexValue {
  bytes: number;
}

/** Settings and collaborators of a {@linkcode KvBudget}. */
export interface KvBudgetOptions {
  maxBytes: number;
  /** Evictions go down to this fraction of the budget, so that not every write evicts. */
  lowWater?: number;
  /** Removes one indexed entry (its metadata, body and tags when still current), checked. */
  remove(entry: Deno.KvEntry<IndexValue>): Promise<RemoveOutcome>;
  /** Called after entries were removed. */
  onRemoved?(reason: RemoveReason, entries: number, bytes: number): void;
  /** Called when a write was refused for want of room. */
  onRefused?(bytes: number): void;
  /** Called after each atomic commit (metrics). */
  onCommit?(kind: "reserve" | "release" | "reconcile"): void;
}

/** Entries looked at per page of the index. */
const PAGE = 64;
/** Pages one eviction or sweep goes through at most (the next write or run goes on). */
const MAX_PAGES = 64;

function count(value: unknown): bigint {
  return value instanceof Deno.KvU64 ? value.value : 0n;
}

/** Enforces the budget; see the module comment. */
export class KvBudget {
  readonly maxBytes: number;
  readonly #kv: Deno.Kv;
  readonly #o: KvBudgetOptions;
  #evicting: Promise<void> | null = null;
  /** Usage as last read from KV (null before the first read). */
  lastUsed: number | null = null;

  constructor(kv: Deno.Kv, options: KvBudgetOptions) {
    if (!(options.maxBytes > 0)) throw new RangeError(`Invalid KV budget: ${options.maxBytes}`);
    this.#kv = kv;
    this.#o = options;
    this.maxBytes = options.maxBytes;
  }

  /** The largest entry written to KV: a quarter of the budget, so a few cannot fill it. */
  get maxEntryBytes(): number {
    return Math.floor(this.maxBytes / 4);
  }

  /** Bytes counted now (every isolate's writes and removals). */
  async used(): Promise<number> {
    const [added, removed] = await this.#kv.getMany([
      cacheUsageKey("added"),
      cacheUsageKey("removed"),
    ]);
    const used = count(added.value) - count(removed.value);
    this.lastUsed = used > 0n ? Number(used) : 0;
    return this.lastUsed;
  }

  /**
   * Reserves `bytes` before they are written: adds them to the usage counter at once (so that
   * concurrent writers in other isolates see them), then, over budget, evicts down to the
   * low-water mark. False when they cannot be stored (larger than an entry may be, or no room
   * could be made: the reservation is then released); the caller keeps the entry out of KV and
   * must {@linkcode release} the reservation if its write does not happen after all.
   */
  async reserve(bytes: number): Promise<boolean> {
    if (bytes > this.maxEntryBytes) {
      this.#o.onRefused?.(bytes);
      return false;
    }
    await this.#kv.atomic().sum(cacheUsageKey("added"), BigInt(bytes)).commit();
    this.#o.onCommit?.("reserve");
    if ((await this.used()) <= this.maxBytes) return true;
    await this.evict(this.maxBytes * (this.#o.lowWater ?? 0.9));
    if ((await this.used()) <= this.maxBytes) return true;
    await this.release(bytes);
    this.#o.onRefused?.(bytes);
    return false;
  }

  /** Gives back a reservation whose write did not happen. */
  async release(bytes: number): Promise<void> {
    await this.#kv.atomic().sum(cacheUsageKey("removed"), BigInt(bytes)).commit();
    this.#o.onCommit?.("release");
  }

  /**
   * Evicts the soonest-expiring entries until usage is at most `target` bytes. One eviction at a
   * time per isolate: concurrent writers wait for it instead of evicting the same entries.
   */
  async evict(target: number): Promise<void> {
    while (this.#evicting) await this.#evicting;
    this.#evicting = this.#evict(target).finally(() => (this.#evicting = null));
    await this.#evicting;
  }

  async #evict(target: number): Promise<void> {
    let used = await this.used();
    let entries = 0;
    let bytes = 0;
    try {
      for (let page = 0; page < MAX_PAGES && used > target; page++) {
        const batch: Deno.KvEntry<IndexValue>[] = [];
        for await (
          const e of this.#kv.list<IndexValue>({ prefix: cacheIndexPrefix() }, { limit: PAGE })
        ) batch.push(e);
        if (batch.length === 0) break;
        for (const e of batch) {
          if ((await this.#o.remove(e)) !== "gone") {
            entries++;
            bytes += e.value.bytes;
            used -= e.value.bytes;
          }
          if (used <= target) break;
        }
        used = await this.used();
      }
    } finally {
      if (entries > 0) this.#o.onRemoved?.("budget", entries, bytes);
    }
  }

  /** Removes the entries whose servable time ended before `now`; returns how many. */
  async sweep(now: number): Promise<number> {
    let entries = 0;
    let bytes = 0;
    try {
      for (let page = 0; page < MAX_PAGES; page++) {
        const batch: Deno.KvEntry<IndexValue>[] = [];
        const selector = { prefix: cacheIndexPrefix(), end: [...cacheIndexPrefix(), now] };
        for await (const e of this.#kv.list<IndexValue>(selector, { limit: PAGE })) batch.push(e);
        if (batch.length === 0) break;
        for (const e of batch) {
          if ((await this.#o.remove(e)) !== "gone") {
            entries++;
            bytes += e.value.bytes;
          }
        }
        if (batch.length < PAGE) break;
      }
    } finally {
      if (entries > 0) this.#o.onRemoved?.("expired", entries, bytes);
    }
    return entries;
  }

  /**
   * Recounts the index and sets the counters to match, unless a write changed them meanwhile
   * (then the next run tries again). Returns the bytes the counters were off by (0 when exact,
   * null when not applied).
   */
  async reconcile(): Promise<number | null> {
    const [added, removed] = await this.#kv.getMany<[Deno.KvU64, Deno.KvU64]>([
      cacheUsageKey("added"),
      cacheUsageKey("removed"),
    ]);
    let total = 0n;
    for await (const e of this.#kv.list<IndexValue>({ prefix: cacheIndexPrefix() })) {
      if (typeof e.value?.bytes === "number") total += BigInt(e.value.bytes);
    }
    const counted = count(added.value) - count(removed.value);
    if (counted === total) return 0;
    const res = await this.#kv.atomic()
      .check(added)
      .check(removed)
      .set(cacheUsageKey("added"), new Deno.KvU64(count(removed.value) + total))
      .commit();
    this.#o.onCommit?.("reconcile");
    if (!res.ok) return null;
    this.lastUsed = Number(total);
    return Number(counted - total);
  }
}

/**
 * The KV tier: metadata by key, bodies in ≤ 60 KiB chunks by version. A body is published by
 * writing all its chunks first and then one atomic, versionstamp-checked metadata write, so a
 * reader sees the old entry, the new one, or none, never a torn body.
 */

import { CasConflictError, casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import { DeadlineQueue } from "../proxy/deadlines.ts";
import { type MetaValue, MetaValueSchema, type StoredEntry } from "./entry.ts";
import { type EntryTiming, retentionMs } from "./freshness.ts";
import { type IndexValue, KvBudget, type RemoveOutcome, type RemoveReason } from "./kv_budget.ts";
import {
  cacheBodyKey,
  cacheBodyPrefix,
  cacheIndexKey,
  cacheLeaseKey,
  cacheMetaKey,
  cacheMetaPrefix,
  cachePurgeHeadKey,
  cacheTagKey,
  cacheTagPrefix,
  cacheUsageKey,
  type KvSlot,
} from "./keys.ts";

/** Largest chunk written (KV values are limited to 64 KiB). */
export const CHUNK_BYTES = 60 * 1024;
/** Bodies up to about this size (with their headers) are stored inside the metadata value. */
export const INLINE_BYTES = 48 * 1024;
/** Entries whose header fields are larger than this are kept in memory only. */
const MAX_META_HEADER_BYTES = 8 * 1024;
/** Chunks per atomic commit (≤ 800 KiB per commit). */
const CHUNKS_PER_COMMIT = 10;
/** Index keys outlive their entry by this much, so the sweep can still count them out. */
const INDEX_GRACE_MS = 3600_000;
/** How long an eviction retries one budget index entry that keeps losing races. */
const REMOVE_DEADLINE_MS = 1000;
/** What an entry costs besides its body and header fields: its keys and fields as stored. */
const ENTRY_OVERHEAD = 256;
/** Per chunk key, per tag index key. */
const KEY_OVERHEAD = 48;

/**
 * The bytes an entry is counted for in the KV budget: its body, header fields and keys (the
 * metadata, each chunk, each tag index entry and its index entry). An estimate of what KV stores
 * for it, without KV's own per-key overhead.
 */
export function accountedBytes(entry: StoredEntry, bodyBytes: number): number {
  const url = entry.key.length > 512 ? 65 : entry.key.length;
  const chunks = bodyBytes + headerBytes(entry) <= INLINE_BYTES
    ? 0
    : Math.ceil(bodyBytes / CHUNK_BYTES);
  let tags = 0;
  for (const tag of entry.tags) tags += tag.length + url + KEY_OVERHEAD;
  return bodyBytes + headerBytes(entry) + ENTRY_OVERHEAD + 2 * url +
    chunks * (entry.version.length + KEY_OVERHEAD) + tags + url + KEY_OVERHEAD;
}

function idx(slot: KvSlot, entry: StoredEntry): ReturnType<typeof cacheIndexKey> | null {
  return entry.kv ? cacheIndexKey(entry.kv.until, slot, entry.version) : null;
}

/** A fill lease as read: who holds it until when (`holder` null when there is none). */
export interface LeaseRead {
  holder: string | null;
  until: number;
  versionstamp: string | null;
}

function leaseOf(res: Deno.KvEntryMaybe<unknown>): LeaseRead {
  const v = res.value as { holder?: unknown; until?: unknown } | null;
  return v !== null && typeof v === "object" && typeof v.holder === "string" &&
      typeof v.until === "number"
    ? { holder: v.holder, until: v.until, versionstamp: res.versionstamp }
    : { holder: null, until: 0, versionstamp: res.versionstamp };
}

/** A slot as {@linkcode KvStore.readSlot} reads it. */
export interface SlotRead {
  meta: MetaRead;
  /** The purge head's versionstamp: a write checks that no purge happened since. */
  purgeVs: string | null;
  lease: LeaseRead;
}

/** A metadata value as read, with the versionstamp to check on write. */
export interface MetaRead {
  value: MetaValue | null;
  versionstamp: string | null;
}

/** What a write checks: nothing changed at the key, and no purge happened, since they were read. */
export interface WriteGuard {
  metaVersionstamp: string | null;
  purgeVersionstamp: string | null;
}

/** Called when a read found data that does not parse (written by another version, or damaged). */
export type InvalidDataReporter = (key: Deno.KvKey, reason: string) => void;

/**
 * The bytes as their own buffer: a view nested in a KV value is serialised with its whole
 * backing buffer (a small body read from a large network buffer would exceed 64 KiB).
 */
function ownBytes(bytes: Uint8Array | undefined): Uint8Array | undefined {
  if (bytes === undefined) return undefined;
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : bytes.slice();
}

function headerBytes(entry: StoredEntry): number {
  let n = 0;
  for (const [k, v] of entry.headers) n += k.length + v.length + 8;
  return n;
}

/** What an atomic commit of the cache was for (`outpost_cache_kv_commits_total{kind}`). */
export type KvCommitKind =
  | "reserve"
  | "release"
  | "publish"
  | "chunks"
  | "update"
  | "remove"
  | "delete_body"
  | "purge"
  | "lease"
  | "reconcile";

/** Reads and writes cache entries in Deno KV. Every method may throw what KV throws. */
export class KvStore {
  readonly #kv: Deno.Kv;
  readonly #onInvalid: InvalidDataReporter;
  readonly #timeoutMs: number;
  readonly #deadlines: DeadlineQueue;
  readonly #onCommit: (kind: KvCommitKind) => void;
  /** The byte budget of the KV tier, enforced on every write and by the sweep. */
  readonly budget: KvBudget;
  readonly #keepStaleMs: number;

  constructor(
    kv: Deno.Kv,
    options: {
      onInvalid?: InvalidDataReporter;
      timeoutMs?: number;
      /** The KV tier's byte budget (default 256 MiB). */
      maxBytes?: number;
      /** How long a stale entry with a validator stays in KV at most (default 5 min). */
      keepStaleMs?: number;
      onRemoved?: (reason: RemoveReason, entries: number, bytes: number) => void;
      onRefused?: (bytes: number) => void;
      /** Called after every atomic commit the store makes (metrics: what KV writes cost). */
      onCommit?: (kind: KvCommitKind) => void;
    } = {},
  ) {
    this.#kv = kv;
    this.#onInvalid = options.onInvalid ?? (() => {});
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#deadlines = new DeadlineQueue(this.#timeoutMs);
    this.#onCommit = options.onCommit ?? (() => {});
    this.#keepStaleMs = options.keepStaleMs ?? 300_000;
    this.budget = new KvBudget(kv, {
      maxBytes: options.maxBytes ?? 256 * 1024 * 1024,
      remove: (entry) => this.removeIndexed(entry),
      onRemoved: options.onRemoved,
      onRefused: options.onRefused,
      onCommit: (kind) => this.#onCommit(kind),
    });
  }

  /**
   * How long an entry with this timing stays in KV from `now`: while it can be served (fresh,
   * then its stale windows) and, with a validator, a short while for conditional revalidation.
   */
  expireIn(timing: EntryTiming, now: number): number {
    return retentionMs(timing, now, this.#keepStaleMs);
  }

  /**
   * `work` on a request's way, given up after the store's timeout (a KV that hangs counts as
   * one that fails: the request goes on to the origin). The work itself is not cancelled.
   */
  within<T>(work: () => Promise<T>): Promise<T> {
    const run = work();
    run.catch(() => {}); // a late failure after the timeout is not unhandled
    // One timer for every read in flight (see `DeadlineQueue`), not one per read.
    return new Promise<T>((resolve, reject) => {
      const deadline = this.#deadlines.add(() =>
        reject(new Error(`KV did not answer within ${this.#timeoutMs} ms`))
      );
      run.then(
        (value) => {
          this.#deadlines.cancel(deadline);
          resolve(value);
        },
        (error) => {
          this.#deadlines.cancel(deadline);
          reject(error);
        },
      );
    });
  }

  async #commit(
    op: Deno.AtomicOperation,
    kind: KvCommitKind,
  ): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    try {
      return await op.commit();
    } finally {
      this.#onCommit(kind);
    }
  }

  /**
   * The metadata at a slot (`null` value when absent or invalid). `eventual` may read a nearby
   * replica (Deno Deploy's KV): a lookup may, a fill deciding what to write may not.
   */
  async readMeta(slot: KvSlot, consistency: Deno.KvConsistencyLevel = "strong"): Promise<MetaRead> {
    return this.#parseMeta(await this.#kv.get(cacheMetaKey(slot), { consistency }));
  }

  #parseMeta(res: Deno.KvEntryMaybe<unknown>): MetaRead {
    if (res.value === null) return { value: null, versionstamp: res.versionstamp };
    const parsed = MetaValueSchema.safeParse(res.value);
    if (!parsed.success) {
      this.#onInvalid(res.key, parsed.error.issues[0]?.message ?? "invalid");
      return { value: null, versionstamp: res.versionstamp };
    }
    return { value: parsed.data, versionstamp: res.versionstamp };
  }

  /**
   * What a fill needs to know about a slot, in one strong round trip: its metadata, the purge
   * head's versionstamp (the write's guard) and the fill lease.
   */
  async readSlot(slot: KvSlot): Promise<SlotRead> {
    const [meta, head, lease] = await this.#kv.getMany<[unknown, unknown, unknown]>([
      cacheMetaKey(slot),
      cachePurgeHeadKey(),
      cacheLeaseKey(slot),
    ]);
    return { meta: this.#parseMeta(meta), purgeVs: head.versionstamp, lease: leaseOf(lease) };
  }

  /** The body of an entry, or `null` when a chunk is missing or the length is wrong. */
  async readBody(
    entry: StoredEntry,
    inline: Uint8Array | undefined,
    consistency: Deno.KvConsistencyLevel = "strong",
  ): Promise<Uint8Array | null> {
    if (entry.chunks === 0) return inline && inline.byteLength === entry.size ? inline : null;
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (
      const item of this.#kv.list<Uint8Array>({ prefix: cacheBodyPrefix(entry.version) }, {
        consistency,
      })
    ) {
      const index = item.key[3];
      if (index !== parts.length || !(item.value instanceof Uint8Array)) return null;
      parts.push(item.value);
      size += item.value.byteLength;
      if (size > entry.size) return null;
    }
    if (parts.length !== entry.chunks || size !== entry.size) return null;
    const body = new Uint8Array(size);
    let offset = 0;
    for (const p of parts) {
      body.set(p, offset);
      offset += p.byteLength;
    }
    return body;
  }

  /** Versionstamps a fill must check when it publishes (the last purge). */
  async purgeVersionstamp(): Promise<string | null> {
    return (await this.#kv.get(cachePurgeHeadKey())).versionstamp;
  }

  /**
   * Publishes an entry: chunks (unless inline), then one atomic write of the metadata, the Vary
   * marker, the tag index, the budget index and the usage counter, checked against `guard`.
   * Returns false when the check failed (a newer entry or a purge got there first; the
   * unpublished chunks are then removed) or the budget has no room for it.
   */
  async write(
    slot: KvSlot,
    entry: StoredEntry,
    body: Uint8Array,
    options: {
      expireIn: number;
      now: number;
      guard: WriteGuard;
      previous?: StoredEntry | null;
    },
  ): Promise<boolean> {
    if (headerBytes(entry) > MAX_META_HEADER_BYTES) return false;
    const inline = body.byteLength + headerBytes(entry) <= INLINE_BYTES;
    const bytes = accountedBytes(entry, body.byteLength);
    if (!(await this.budget.reserve(bytes))) return false;
    let ok = false;
    try {
      ok = await this.#publish(slot, entry, body, bytes, inline, options);
    } finally {
      if (!ok) await this.budget.release(bytes).catch(() => {});
    }
    return ok;
  }

  async #publish(
    slot: KvSlot,
    entry: StoredEntry,
    body: Uint8Array,
    bytes: number,
    inline: boolean,
    options: { expireIn: number; now: number; guard: WriteGuard; previous?: StoredEntry | null },
  ): Promise<boolean> {
    const { expireIn } = options;
    const stored: StoredEntry = {
      ...entry,
      chunks: inline ? 0 : Math.ceil(body.byteLength / CHUNK_BYTES),
      kv: { until: options.now + expireIn, bytes },
    };
    if (!inline) await this.#writeChunks(stored.version, body, expireIn);
    const value: MetaValue = inline
      ? { v: 1, kind: "entry", entry: stored, body: ownBytes(body) }
      : { v: 1, kind: "entry", entry: stored };
    const op = this.#kv.atomic()
      .check({ key: cacheMetaKey(slot), versionstamp: options.guard.metaVersionstamp })
      .check({ key: cachePurgeHeadKey(), versionstamp: options.guard.purgeVersionstamp })
      .set(cacheMetaKey(slot), value, { expireIn })
      // The bytes went into the usage counter when they were reserved.
      .set(idx(slot, stored)!, { bytes } satisfies IndexValue, {
        expireIn: expireIn + INDEX_GRACE_MS,
      });
    const old = options.previous;
    const oldIndex = old ? idx(slot, old) : null;
    if (old?.kv && oldIndex) {
      op.delete(oldIndex).sum(cacheUsageKey("removed"), BigInt(old.kv.bytes));
    }
    if (slot.variant !== "") {
      const marker: MetaValue = { v: 1, kind: "vary", key: entry.key, vary: entry.vary };
      op.set(cacheMetaKey({ url: slot.url, variant: "" }), marker, { expireIn });
    }
    for (const tag of entry.tags) op.set(cacheTagKey(tag, slot), slot, { expireIn });
    let ok = false;
    try {
      ok = (await this.#commit(op, "publish")).ok;
    } finally {
      if (!ok && !inline) await this.deleteBody(stored.version).catch(() => {});
    }
    if (ok && old && old.chunks > 0 && old.version !== stored.version) {
      await this.deleteBody(old.version).catch(() => {});
    }
    return ok;
  }

  /** Writes a body's chunks (not yet visible to readers: no metadata points at them). */
  async #writeChunks(version: string, body: Uint8Array, expireIn: number): Promise<void> {
    const count = Math.ceil(body.byteLength / CHUNK_BYTES);
    for (let first = 0; first < count; first += CHUNKS_PER_COMMIT) {
      const op = this.#kv.atomic();
      for (let i = first; i < Math.min(count, first + CHUNKS_PER_COMMIT); i++) {
        op.set(
          cacheBodyKey(version, i),
          body.subarray(i * CHUNK_BYTES, Math.min(body.byteLength, (i + 1) * CHUNK_BYTES)),
          { expireIn },
        );
      }
      const res = await this.#commit(op, "chunks");
      if (!res.ok) throw new Error(`Chunk commit failed for body ${version}`);
    }
  }

  /**
   * Replaces an entry's metadata, keeping its body (a 304 revalidation): moves its budget index
   * entry to its new expiry. Returns false when the entry changed since `versionstamp` was read.
   */
  async updateMeta(
    slot: KvSlot,
    entry: StoredEntry,
    inline: Uint8Array | undefined,
    options: { expireIn: number; now: number; versionstamp: string },
  ): Promise<boolean> {
    const updated: StoredEntry = entry.kv
      ? { ...entry, kv: { until: options.now + options.expireIn, bytes: entry.kv.bytes } }
      : entry;
    const value: MetaValue = updated.chunks === 0
      ? { v: 1, kind: "entry", entry: updated, body: ownBytes(inline) }
      : { v: 1, kind: "entry", entry: updated };
    const op = this.#kv.atomic()
      .check({ key: cacheMetaKey(slot), versionstamp: options.versionstamp })
      .set(cacheMetaKey(slot), value, { expireIn: options.expireIn });
    this.#moveIndex(op, slot, entry, updated, options.expireIn);
    return (await this.#commit(op, "update")).ok;
  }

  /** Moves an entry's budget index key from its old expiry to its new one (same bytes). */
  #moveIndex(
    op: Deno.AtomicOperation,
    slot: KvSlot,
    before: StoredEntry,
    after: StoredEntry,
    expireIn: number,
  ): void {
    const from = idx(slot, before);
    const to = idx(slot, after);
    if (from === null || to === null || after.kv === undefined) return;
    op.delete(from).set(to, { bytes: after.kv.bytes } satisfies IndexValue, {
      expireIn: expireIn + INDEX_GRACE_MS,
    });
  }

  /**
   * Removes what one budget index entry stands for, checked against concurrent writers: the
   * entry itself (metadata, tag index, body) when it is still the current one at its slot, else
   * only the index entry. The usage counter goes down by the bytes it was counted for.
   */
  async removeIndexed(index: Deno.KvEntry<IndexValue>): Promise<RemoveOutcome> {
    let current: Deno.KvEntryMaybe<IndexValue> = index;
    try {
      // Eviction is background work: a key that keeps losing races is left for the next pass
      // (the index entry stays, so it is found again) rather than held up for long.
      return await casRetry(`the budget index entry of ${String(index.key[3])}`, async (n) => {
        if (n > 1) current = await this.#kv.get<IndexValue>(current.key);
        if (current.versionstamp === null) return "gone";
        const [, , , url, variant, version] = current.key as [
          string,
          string,
          number,
          string,
          string,
          string,
        ];
        const slot: KvSlot = { url: String(url), variant: String(variant) };
        const bytes = typeof current.value?.bytes === "number" ? current.value.bytes : 0;
        const meta = await this.#kv.get(cacheMetaKey(slot));
        const parsed = meta.value === null ? null : MetaValueSchema.safeParse(meta.value);
        const entry =
          parsed?.success && parsed.data.kind === "entry" && parsed.data.entry.version === version
            ? parsed.data.entry
            : null;
        const op = this.#kv.atomic()
          .check(current)
          .delete(current.key)
          .sum(cacheUsageKey("removed"), BigInt(bytes));
        if (entry !== null) {
          op.check(meta).delete(cacheMetaKey(slot));
          for (const tag of entry.tags) op.delete(cacheTagKey(tag, slot));
        }
        if (!(await this.#commit(op, "remove")).ok) return CONFLICT;
        if (entry !== null && entry.chunks > 0) await this.deleteBody(entry.version);
        return entry !== null ? "entry" : "orphan";
      }, { deadlineMs: REMOVE_DEADLINE_MS });
    } catch (error) {
      if (error instanceof CasConflictError) return "gone";
      throw error;
    }
  }

  /** Deletes the chunks of one body version. */
  async deleteBody(version: string): Promise<void> {
    let op = this.#kv.atomic();
    let n = 0;
    for await (const item of this.#kv.list({ prefix: cacheBodyPrefix(version) })) {
      op.delete(item.key);
      if (++n % 100 === 0) {
        await this.#commit(op, "delete_body");
        op = this.#kv.atomic();
      }
    }
    if (n % 100 !== 0) await this.#commit(op, "delete_body");
  }

  /** Every metadata slot stored for a URL (all variants and the Vary marker). */
  async slotsOfUrl(url: string): Promise<KvSlot[]> {
    const out: KvSlot[] = [];
    for await (const item of this.#kv.list({ prefix: cacheMetaPrefix(url) }, { limit: 10_000 })) {
      out.push({ url, variant: String(item.key[3]) });
    }
    return out;
  }

  /** Every slot the tag index lists for `tag` (some may be gone already). */
  async slotsOfTag(tag: string): Promise<KvSlot[]> {
    const out: KvSlot[] = [];
    for await (const item of this.#kv.list({ prefix: cacheTagPrefix(tag) }, { limit: 100_000 })) {
      out.push({ url: String(item.key[3]), variant: String(item.key[4]) });
    }
    return out;
  }

  /**
   * Purges one slot: deletes it (and its body, tag index and budget index entries), or with
   * `soft` marks the entry stale from `now` on (kept for stale-if-error, expiring accordingly).
   * Returns true when an entry was there. Retries on conflicts.
   */
  purgeSlot(slot: KvSlot, options: { soft: boolean; now: number }): Promise<boolean> {
    return casRetry(`the cache entry of ${slot.url}`, async () => {
      const res = await this.#kv.get(cacheMetaKey(slot));
      if (res.value === null) return false;
      const parsed = MetaValueSchema.safeParse(res.value);
      const entry = parsed.success && parsed.data.kind === "entry" ? parsed.data.entry : null;
      const op = this.#kv.atomic().check(res);
      if (options.soft && entry) {
        if (entry.timing.invalidatedAt !== undefined) return true;
        const timing = { ...entry.timing, invalidatedAt: options.now };
        const expireIn = this.expireIn(timing, options.now);
        const marked: StoredEntry = {
          ...entry,
          timing,
          kv: entry.kv ? { until: options.now + expireIn, bytes: entry.kv.bytes } : undefined,
        };
        const value = parsed.success && parsed.data.kind === "entry"
          ? { ...parsed.data, entry: marked }
          : res.value;
        op.set(cacheMetaKey(slot), value, { expireIn });
        this.#moveIndex(op, slot, entry, marked, expireIn);
      } else if (options.soft) {
        return false; // a Vary marker: nothing to mark
      } else {
        op.delete(cacheMetaKey(slot));
        for (const tag of entry?.tags ?? []) op.delete(cacheTagKey(tag, slot));
        const index = entry ? idx(slot, entry) : null;
        if (entry?.kv && index) {
          op.delete(index).sum(cacheUsageKey("removed"), BigInt(entry.kv.bytes));
        }
      }
      if (!(await this.#commit(op, "purge")).ok) return CONFLICT;
      if (!options.soft && entry && entry.chunks > 0) await this.deleteBody(entry.version);
      return entry !== null;
    }, { lane: this.#kv });
  }

  /** Removes a tag index entry (after its slot was purged). */
  async deleteTagIndex(tag: string, slot: KvSlot): Promise<void> {
    await this.#kv.delete(cacheTagKey(tag, slot));
  }

  /**
   * Takes the fill lease for a slot unless another holder's lease is still running. Returns the
   * holder that has it now.
   */
  async acquireLease(slot: KvSlot, holder: string, now: number, ttlMs: number): Promise<string> {
    const res = await this.#kv.get(cacheLeaseKey(slot));
    return await this.takeLease(slot, holder, now, ttlMs, leaseOf(res));
  }

  /**
   * {@linkcode acquireLease} from a lease already read (`readSlot`): one commit checked against
   * what was read, or none when another holder's lease is still running.
   */
  async takeLease(
    slot: KvSlot,
    holder: string,
    now: number,
    ttlMs: number,
    seen: LeaseRead,
  ): Promise<string> {
    if (seen.holder !== null && seen.until > now && seen.holder !== holder) return seen.holder;
    const key = cacheLeaseKey(slot);
    const ok = await this.#commit(
      this.#kv.atomic().check({ key, versionstamp: seen.versionstamp })
        .set(key, { holder, until: now + ttlMs }, { expireIn: ttlMs }),
      "lease",
    );
    if (ok.ok) return holder;
    const again = await this.#kv.get<{ holder: string }>(key);
    return again.value?.holder ?? holder;
  }

  /** Releases a lease this holder has. */
  async releaseLease(slot: KvSlot, holder: string): Promise<void> {
    const key = cacheLeaseKey(slot);
    const res = await this.#kv.get<{ holder: string }>(key);
    if (res.value?.holder !== holder) return;
    await this.#commit(this.#kv.atomic().check(res).delete(key), "lease");
  }
}

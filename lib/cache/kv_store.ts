/**
 * The KV tier: metadata by key, bodies in ≤ 60 KiB chunks by version. A body is published by
 * writing all its chunks first and then one atomic, versionstamp-checked metadata write, so a
 * reader sees the old entry, the new one, or none, never a torn body.
 */

import { casRetry, CONFLICT } from "../kv/cas_retry.ts";
import { type MetaValue, MetaValueSchema, type StoredEntry } from "./entry.ts";
import {
  cacheBodyKey,
  cacheBodyPrefix,
  cacheLeaseKey,
  cacheMetaKey,
  cacheMetaPrefix,
  cachePurgeHeadKey,
  cacheTagKey,
  cacheTagPrefix,
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

/** Reads and writes cache entries in Deno KV. Every method may throw what KV throws. */
export class KvStore {
  readonly #kv: Deno.Kv;
  readonly #onInvalid: InvalidDataReporter;

  readonly #timeoutMs: number;

  constructor(
    kv: Deno.Kv,
    options: { onInvalid?: InvalidDataReporter; timeoutMs?: number } = {},
  ) {
    this.#kv = kv;
    this.#onInvalid = options.onInvalid ?? (() => {});
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  /**
   * `work` on a request's way, given up after the store's timeout (a KV that hangs counts as
   * one that fails: the request goes on to the origin). The work itself is not cancelled.
   */
  within<T>(work: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`KV did not answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    const run = work();
    run.catch(() => {}); // a late failure after the timeout is not unhandled
    return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * The metadata at a slot (`null` value when absent or invalid). `eventual` may read a nearby
   * replica (Deno Deploy's KV): a lookup may, a fill deciding what to write may not.
   */
  async readMeta(slot: KvSlot, consistency: Deno.KvConsistencyLevel = "strong"): Promise<MetaRead> {
    const res = await this.#kv.get(cacheMetaKey(slot), { consistency });
    if (res.value === null) return { value: null, versionstamp: res.versionstamp };
    const parsed = MetaValueSchema.safeParse(res.value);
    if (!parsed.success) {
      this.#onInvalid(res.key, parsed.error.issues[0]?.message ?? "invalid");
      return { value: null, versionstamp: res.versionstamp };
    }
    return { value: parsed.data, versionstamp: res.versionstamp };
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
   * marker and the tag index, checked against `guard`. Returns false when the check failed (a
   * newer entry or a purge got there first); the unpublished chunks are then removed.
   */
  async write(
    slot: KvSlot,
    entry: StoredEntry,
    body: Uint8Array,
    options: { expireIn: number; guard: WriteGuard; previous?: StoredEntry | null },
  ): Promise<boolean> {
    const { expireIn } = options;
    if (headerBytes(entry) > MAX_META_HEADER_BYTES) return false;
    const inline = body.byteLength + headerBytes(entry) <= INLINE_BYTES;
    const stored: StoredEntry = {
      ...entry,
      chunks: inline ? 0 : Math.ceil(body.byteLength / CHUNK_BYTES),
    };
    if (!inline) await this.#writeChunks(stored.version, body, expireIn);
    const value: MetaValue = inline
      ? { v: 1, kind: "entry", entry: stored, body: ownBytes(body) }
      : { v: 1, kind: "entry", entry: stored };
    const op = this.#kv.atomic()
      .check({ key: cacheMetaKey(slot), versionstamp: options.guard.metaVersionstamp })
      .check({ key: cachePurgeHeadKey(), versionstamp: options.guard.purgeVersionstamp })
      .set(cacheMetaKey(slot), value, { expireIn });
    if (slot.variant !== "") {
      const marker: MetaValue = { v: 1, kind: "vary", key: entry.key, vary: entry.vary };
      op.set(cacheMetaKey({ url: slot.url, variant: "" }), marker, { expireIn });
    }
    for (const tag of entry.tags) op.set(cacheTagKey(tag, slot), slot, { expireIn });
    let ok = false;
    try {
      ok = (await op.commit()).ok;
    } finally {
      if (!ok && !inline) await this.deleteBody(stored.version).catch(() => {});
    }
    const old = options.previous;
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
      const res = await op.commit();
      if (!res.ok) throw new Error(`Chunk commit failed for body ${version}`);
    }
  }

  /**
   * Replaces an entry's metadata, keeping its body (a 304 revalidation, a soft purge). Returns
   * false when the entry changed since `versionstamp` was read.
   */
  async updateMeta(
    slot: KvSlot,
    entry: StoredEntry,
    inline: Uint8Array | undefined,
    options: { expireIn: number; versionstamp: string },
  ): Promise<boolean> {
    const value: MetaValue = entry.chunks === 0
      ? { v: 1, kind: "entry", entry, body: ownBytes(inline) }
      : { v: 1, kind: "entry", entry };
    const res = await this.#kv.atomic()
      .check({ key: cacheMetaKey(slot), versionstamp: options.versionstamp })
      .set(cacheMetaKey(slot), value, { expireIn: options.expireIn })
      .commit();
    return res.ok;
  }

  /** Deletes the chunks of one body version. */
  async deleteBody(version: string): Promise<void> {
    let op = this.#kv.atomic();
    let n = 0;
    for await (const item of this.#kv.list({ prefix: cacheBodyPrefix(version) })) {
      op.delete(item.key);
      if (++n % 100 === 0) {
        await op.commit();
        op = this.#kv.atomic();
      }
    }
    if (n % 100 !== 0) await op.commit();
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
   * Purges one slot: deletes it (and its body and tag index entries), or with `soft` marks the
   * entry stale from `now` on. Returns true when an entry was there. Retries on conflicts.
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
        const marked = { ...entry, timing: { ...entry.timing, invalidatedAt: options.now } };
        const value = parsed.success && parsed.data.kind === "entry"
          ? { ...parsed.data, entry: marked }
          : res.value;
        op.set(cacheMetaKey(slot), value);
      } else if (options.soft) {
        return false; // a Vary marker: nothing to mark
      } else {
        op.delete(cacheMetaKey(slot));
        for (const tag of entry?.tags ?? []) op.delete(cacheTagKey(tag, slot));
      }
      if (!(await op.commit()).ok) return CONFLICT;
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
    const key = cacheLeaseKey(slot);
    const res = await this.#kv.get<{ holder: string; until: number }>(key);
    const lease = res.value;
    if (
      lease && typeof lease.holder === "string" && typeof lease.until === "number" &&
      lease.until > now && lease.holder !== holder
    ) return lease.holder;
    const ok = await this.#kv.atomic().check(res)
      .set(key, { holder, until: now + ttlMs }, { expireIn: ttlMs })
      .commit();
    if (ok.ok) return holder;
    const again = await this.#kv.get<{ holder: string }>(key);
    return again.value?.holder ?? holder;
  }

  /** Releases a lease this holder has. */
  async releaseLease(slot: KvSlot, holder: string): Promise<void> {
    const key = cacheLeaseKey(slot);
    const res = await this.#kv.get<{ holder: string }>(key);
    if (res.value?.holder !== holder) return;
    await this.#kv.atomic().check(res).delete(key).commit();
  }
}

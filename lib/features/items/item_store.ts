/**
 * The central copy of the items, in KV. A write is one atomic commit checked on the
 * item's versionstamp: the new version (an `etag`), its body (inline up to 60 KB, else chunks
 * keyed by version), the removal of the old version's chunks, a change record and a touch of
 * the head key that other nodes watch. Preconditions (`If-Match`) are judged inside the loop.
 */

import { z } from "zod";
import type { Clock } from "../../core/clock.ts";
import { casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import { itemChangeKey, itemChangesPrefix, itemChunkKey, itemKey, itemsHeadKey } from "./keys.ts";

/** Bodies up to this many bytes are stored inline; larger ones in chunks of this size. */
export const CHUNK_BYTES = 60_000;

/** An item as read from KV. */
export interface StoredItem {
  etag: string;
  updatedAt: number;
  /** The JSON text of the item. */
  text: string;
  /** The versionstamp of the commit that wrote it. */
  versionstamp: string;
}

/** A change record as listed. */
export interface ItemChange {
  at: number;
  id: string;
  versionstamp: string;
}

/** Conditions on the current version for a write. */
export interface Preconditions {
  /** `If-Match`: `*` (must exist) or the acceptable etags. */
  ifMatch?: "*" | string[];
  /** `If-None-Match: *` on a write: must not exist. */
  ifNoneMatch?: "*";
}

/** Thrown when a precondition does not hold (answered 412). */
export class PreconditionFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PreconditionFailedError";
  }
}

const StoredMetaSchema = z.object({
  v: z.literal(1),
  etag: z.string().regex(/^[0-9a-f]{20}$/),
  updatedAt: z.number().finite(),
  size: z.number().int().min(0),
  body: z.instanceof(Uint8Array).optional(),
  chunks: z.number().int().min(1).max(64).optional(),
}).refine((m) => (m.body === undefined) !== (m.chunks === undefined), {
  message: "Exactly one of body or chunks",
});
type StoredMeta = z.infer<typeof StoredMetaSchema>;

const ChangeSchema = z.object({ id: z.string() });
const decoder = new TextDecoder();
const encoder = new TextEncoder();

function newEtag(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 20);
}

function checkPreconditions(current: StoredMeta | null, p: Preconditions): void {
  if (p.ifNoneMatch === "*" && current) {
    throw new PreconditionFailedError("The item exists (If-None-Match: *)");
  }
  if (p.ifMatch === "*" && !current) {
    throw new PreconditionFailedError("The item does not exist (If-Match: *)");
  }
  if (Array.isArray(p.ifMatch) && !(current && p.ifMatch.includes(current.etag))) {
    throw new PreconditionFailedError(
      current ? `The item's version is "${current.etag}"` : "The item does not exist",
    );
  }
}

/** Reads and writes items in KV. */
export class ItemStore {
  readonly #kv: Deno.Kv;
  readonly #clock: Clock;
  readonly #retentionMs: number;
  readonly #onInvalid: (key: Deno.KvKey) => void;

  constructor(
    kv: Deno.Kv,
    clock: Clock,
    retentionMs: number,
    onInvalid: (key: Deno.KvKey) => void = () => {},
  ) {
    this.#kv = kv;
    this.#clock = clock;
    this.#retentionMs = retentionMs;
    this.#onInvalid = onInvalid;
  }

  async #meta(
    id: string,
    consistency: Deno.KvConsistencyLevel,
  ): Promise<{ entry: Deno.KvEntryMaybe<unknown>; meta: StoredMeta | null }> {
    const entry = await this.#kv.get(itemKey(id), { consistency });
    if (entry.value === null) return { entry, meta: null };
    const parsed = StoredMetaSchema.safeParse(entry.value);
    if (!parsed.success) {
      this.#onInvalid(entry.key);
      return { entry, meta: null };
    }
    return { entry, meta: parsed.data };
  }

  /**
   * Reads an item (null when absent, with the versionstamp of the read: "" when none). An
   * eventual read may be older than the last write; the caller decides whether that is enough.
   */
  async read(
    id: string,
    consistency: Deno.KvConsistencyLevel,
  ): Promise<{ item: StoredItem | null; versionstamp: string }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const level = attempt === 0 ? consistency : "strong";
      const { entry, meta } = await this.#meta(id, level);
      if (!meta) return { item: null, versionstamp: entry.versionstamp ?? "" };
      let bytes = meta.body;
      if (!bytes) {
        const keys = Array.from({ length: meta.chunks! }, (_, i) => itemChunkKey(id, meta.etag, i));
        const parts: Deno.KvEntryMaybe<unknown>[] = [];
        for (let i = 0; i < keys.length; i += 10) {
          parts.push(...await this.#kv.getMany(keys.slice(i, i + 10), { consistency: level }));
        }
        // A chunk missing means the version was replaced between our reads: read again.
        if (parts.some((p) => !(p.value instanceof Uint8Array))) continue;
        bytes = new Uint8Array(meta.size);
        let offset = 0;
        for (const p of parts) {
          bytes.set(p.value as Uint8Array, offset);
          offset += (p.value as Uint8Array).byteLength;
        }
      }
      return {
        item: {
          etag: meta.etag,
          updatedAt: meta.updatedAt,
          text: decoder.decode(bytes),
          versionstamp: entry.versionstamp!,
        },
        versionstamp: entry.versionstamp!,
      };
    }
    throw new Error(`Item ${id} kept changing while being read`);
  }

  /** Writes an item's JSON text; returns the new version. */
  write(
    id: string,
    text: string,
    pre: Preconditions = {},
  ): Promise<StoredItem & { created: boolean }> {
    const bytes = encoder.encode(text);
    return casRetry(`item ${id}`, async () => {
      const { entry, meta } = await this.#meta(id, "strong");
      checkPreconditions(meta, pre);
      const etag = newEtag();
      const updatedAt = this.#clock.now();
      const op = this.#kv.atomic().check(entry);
      this.#dropChunks(op, id, meta);
      if (bytes.byteLength <= CHUNK_BYTES) {
        op.set(itemKey(id), { v: 1, etag, updatedAt, size: bytes.byteLength, body: bytes });
      } else {
        const chunks = Math.ceil(bytes.byteLength / CHUNK_BYTES);
        for (let i = 0; i < chunks; i++) {
          op.set(itemChunkKey(id, etag, i), bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
        }
        op.set(itemKey(id), { v: 1, etag, updatedAt, size: bytes.byteLength, chunks });
      }
      this.#recordChange(op, id);
      const res = await op.commit();
      if (!res.ok) return CONFLICT;
      return { etag, updatedAt, text, versionstamp: res.versionstamp, created: meta === null };
    }, { lane: this.#kv });
  }

  /** Deletes an item; returns the commit's versionstamp, or null when there was nothing. */
  delete(id: string, pre: Preconditions = {}): Promise<string | null> {
    return casRetry(`item ${id}`, async () => {
      const { entry, meta } = await this.#meta(id, "strong");
      checkPreconditions(meta, pre);
      if (entry.value === null) return null;
      const op = this.#kv.atomic().check(entry).delete(itemKey(id));
      this.#dropChunks(op, id, meta);
      this.#recordChange(op, id);
      const res = await op.commit();
      return res.ok ? res.versionstamp : CONFLICT;
    }, { lane: this.#kv });
  }

  #dropChunks(op: Deno.AtomicOperation, id: string, meta: StoredMeta | null): void {
    for (let i = 0; i < (meta?.chunks ?? 0); i++) op.delete(itemChunkKey(id, meta!.etag, i));
  }

  #recordChange(op: Deno.AtomicOperation, id: string): void {
    const at = this.#clock.now();
    const nonce = crypto.randomUUID().slice(0, 8);
    // expireIn is a lower bound; trimChanges() deletes on time.
    op.set(itemChangeKey(at, nonce), { id }, { expireIn: this.#retentionMs * 2 });
    op.set(itemsHeadKey(), { at, nonce });
  }

  /** Change records at or after `from` (ms), read with strong consistency, oldest first. */
  async *changes(from: number): AsyncGenerator<ItemChange> {
    const prefix = itemChangesPrefix();
    for await (const e of this.#kv.list({ prefix, start: [...prefix, from] }, { batchSize: 500 })) {
      const parsed = ChangeSchema.safeParse(e.value);
      if (!parsed.success || typeof e.key[2] !== "number") {
        this.#onInvalid(e.key);
        continue;
      }
      yield { at: e.key[2], id: parsed.data.id, versionstamp: e.versionstamp };
    }
  }

  /** Deletes change records older than the retention; returns how many. */
  async trimChanges(): Promise<number> {
    const prefix = itemChangesPrefix();
    const before = this.#clock.now() - this.#retentionMs;
    let n = 0;
    let op = this.#kv.atomic();
    let pending = 0;
    for await (const e of this.#kv.list({ prefix, end: [...prefix, before] })) {
      op.delete(e.key);
      if (++pending === 500) {
        await op.commit();
        n += pending;
        op = this.#kv.atomic();
        pending = 0;
      }
    }
    if (pending > 0) await op.commit();
    return n + pending;
  }
}

/**
 * Which representation of a stored response a client gets: the stored body as it is when the
 * client takes its coding, else a decoded (or re-encoded) one, and a compressed one of an identity
 * body worth compressing. Derived bodies are made once and kept with the item in the memory tier
 * (counted in its bytes); bodies too large to transform at once, or items not held in memory,
 * are transformed as a stream per response. Transformed representations get a weak ETag, no
 * digests, and `Vary: Accept-Encoding`, as does every representation of a negotiable item.
 */

import {
  type Coding,
  type Plan,
  planFor,
  planKey,
  varyWithAcceptEncoding,
  weakEtag,
} from "./encoding.ts";
import { itemBytes } from "./origin_io.ts";
import { makeItem, type MemoryItem, type MemoryTier, reheader } from "./memory.ts";
import type { ByteTransform } from "./transcode.ts";

type Transcode = typeof import("./transcode.ts");

/**
 * The byte transforms (transcode.ts), loaded on first need: they use `node:zlib`, whose import
 * loads Deno's Node compatibility layer, which start-up does not pay (docs/cold_start.md).
 */
let transcode: Transcode | null = null;
let transcodeLoading: Promise<void> | null = null;

/** Loads the byte transforms (once; a failed load is tried again on the next call). */
export function loadTranscode(): Promise<void> {
  transcodeLoading ??= import("./transcode.ts").then((loaded) => {
    transcode = loaded;
  }, (error) => {
    transcodeLoading = null;
    throw error;
  });
  return transcodeLoading;
}

/** The `cache.compression` settings. */
export interface CompressionSettings {
  /** Compress identity bodies worth compressing for clients that accept br or gzip. */
  enabled: boolean;
  /** Smaller bodies are sent as they are. */
  minBytes: number;
}

/**
 * Bodies up to this size (before and after) are transformed at once: a few ms of CPU once per
 * item and coding (bench/cache_compression.ts). Larger ones are transformed as they are sent.
 */
const SYNC_TRANSFORM_MAX = 256 * 1024;

/** What to send. */
export type Picked =
  | { kind: "item"; item: MemoryItem }
  /** `item`'s fields describe the result; its body goes through `transforms` as it is sent. */
  | { kind: "stream"; item: MemoryItem; transforms: Array<() => ByteTransform> }
  /** Nothing the client accepts can be made (`no-transform`): ask the origin instead. */
  | { kind: "unacceptable" };

/** Fields that describe the stored bytes and are wrong for transformed ones. */
const DIGESTS = new Set(["content-md5", "content-digest", "repr-digest", "digest"]);
/** Statuses whose responses never have a body (never compressed). */
const NO_BODY = new Set([204, 205, 304]);

function plannedHeaders(
  headers: readonly [string, string][],
  coding: Coding | null,
  transformed: boolean,
): [string, string][] {
  const out: [string, string][] = [];
  let vary: string | null = null;
  for (const [name, value] of headers) {
    if (name === "vary") vary = vary === null ? value : `${vary}, ${value}`;
    else if (name === "content-encoding") continue;
    else if (transformed && DIGESTS.has(name)) continue;
    else if (transformed && name === "etag") out.push([name, weakEtag(value)]);
    else out.push([name, value]);
  }
  if (coding !== null) out.push(["content-encoding", coding]);
  out.push(["vary", varyWithAcceptEncoding(vary)]);
  return out;
}

/** Picks and makes representations. */
export class Representations {
  readonly #memory: MemoryTier;
  readonly #compression: CompressionSettings;

  constructor(options: { memory: MemoryTier; compression: CompressionSettings }) {
    this.#memory = options.memory;
    this.#compression = options.compression;
  }

  /** Content this cache would compress (an identity body now, or once decoded). */
  compressible(item: MemoryItem): boolean {
    const c = this.#compression;
    return c.enabled && item.compressibleType && item.entry.size >= c.minBytes &&
      !NO_BODY.has(item.entry.status);
  }

  /** Whether what a client gets from this item depends on its `Accept-Encoding`. */
  negotiable(item: MemoryItem): boolean {
    return item.coding !== null || (this.compressible(item) && !item.noTransform);
  }

  /**
   * Null when {@linkcode pick} can answer for these arguments now, else the load of the byte
   * transforms it needs first (awaited by the caller; the first transformed representation
   * after start-up waits for it).
   */
  ready(item: MemoryItem, acceptEncoding: string | null, range = false): Promise<void> | null {
    if (transcode !== null || !this.negotiable(item)) return null;
    const plan = planFor(
      { coding: item.coding, compressible: this.compressible(item), noTransform: item.noTransform },
      acceptEncoding,
      range,
    );
    return plan.kind === "decode" || plan.kind === "encode" ? loadTranscode() : null;
  }

  /**
   * The representation of `item` for a client sending `acceptEncoding` (and `range`: a range
   * request, which is never compressed). Await {@linkcode ready} first.
   */
  pick(item: MemoryItem, acceptEncoding: string | null, range = false): Picked {
    if (!this.negotiable(item)) return { kind: "item", item };
    const plan = planFor(
      { coding: item.coding, compressible: this.compressible(item), noTransform: item.noTransform },
      acceptEncoding,
      range,
    );
    if (plan.kind === "unacceptable") return plan;
    const key = planKey(plan);
    const known = item.reps?.get(key);
    if (known !== undefined) return { kind: "item", item: known };
    return this.#make(item, plan, key);
  }

  #make(item: MemoryItem, plan: Exclude<Plan, { kind: "unacceptable" }>, key: string): Picked {
    const to = plan.kind === "as-is" ? item.coding : plan.to;
    const headers = plannedHeaders(item.entry.headers, to, plan.kind !== "as-is");
    if (plan.kind === "as-is") {
      return { kind: "item", item: this.#keep(item, key, reheader(item, headers)) };
    }
    const from = plan.kind === "decode" ? item.coding : null;
    if (transcode === null) throw new Error("Representations.pick() before ready() resolved");
    const { decodeStream, decodeSync, encodeStream, encodeSync } = transcode;
    if (item.entry.size <= SYNC_TRANSFORM_MAX && this.#memory.holds(item)) {
      let bytes: Uint8Array | "too-large" | "invalid" = itemBytes(item);
      if (from !== null) bytes = decodeSync(bytes, from, SYNC_TRANSFORM_MAX);
      // A stored body that does not decode cannot be served to this client at all.
      if (bytes === "invalid") return { kind: "unacceptable" };
      if (bytes !== "too-large") {
        if (to !== null) bytes = encodeSync(bytes, to);
        const made = makeItem({ ...item.entry, headers, size: bytes.byteLength }, bytes);
        return { kind: "item", item: this.#keep(item, key, made) };
      }
    }
    const transforms: Array<() => ByteTransform> = [];
    if (from !== null) transforms.push(() => decodeStream(from));
    if (to !== null) transforms.push(() => encodeStream(to));
    return { kind: "stream", item: reheader(item, headers), transforms };
  }

  /** Keeps a representation with its item when memory holds the item and it still fits. */
  #keep(item: MemoryItem, key: string, rep: MemoryItem): MemoryItem {
    if (this.#memory.grow(item, rep.size)) (item.reps ??= new Map()).set(key, rep);
    return rep;
  }
}

/**
 * The isolate's memory tier: an LRU bounded in bytes (`lru-cache` with `maxSize`), holding
 * entries ready to answer (body decoded once, headers flattened) and the Vary markers of URLs
 * whose responses vary. Indexes by URL and by tag make purges cheap.
 */

import { LRUCache } from "../../platform/vendor/lru_cache.ts";
import { parseResponseDirectives } from "./directives.ts";
import { type Coding, contentCoding, isCompressible } from "./encoding.ts";
import { headerView, type StoredEntry } from "./entry.ts";
import { edgeDirectives } from "./freshness.ts";

/** A stored response ready to be sent. */
export interface MemoryItem {
  kind: "entry";
  entry: StoredEntry;
  /** The body as a string when it is valid UTF-8 (cheapest to send), else bytes. */
  body: string | Uint8Array;
  contentType: string | null;
  /** Every other stored field, flattened: name, value, name, value … */
  fields: string[];
  /** The origin's own `Cache-Status` (ours is appended to it). */
  upstreamStatus: string | null;
  etag: string | null;
  lastModified: string | null;
  /** The stored body's content coding (null: identity). */
  coding: Coding | null;
  /** The content type is worth compressing (the size and config decide the rest). */
  compressibleType: boolean;
  /** `no-transform`: served only as stored. */
  noTransform: boolean;
  /**
   * Representations derived from this one for clients that need another coding (by plan key:
   * `identity`, `br`, `gzip`, `as-is`), made on first use; their bytes count in `size`.
   */
  reps?: Map<string, MemoryItem>;
  /** Bytes this item is accounted for. */
  size: number;
  /**
   * A `200` response with the body and the stored fields, built on the first hit and cloned for
   * the next ones: cloning copies the validated header list, so a hit sets only what changes.
   */
  template?: Response;
}

/** At a URL whose responses vary: the request headers that pick the variant. */
export interface VaryItem {
  kind: "vary";
  vary: string[];
  size: number;
}

type Item = MemoryItem | VaryItem;

/** Fixed per-item overhead in the byte accounting (objects, map slots, indexes). */
const ITEM_OVERHEAD = 512;
/** An entry's template response (its header list; the body string is shared, not copied). */
const TEMPLATE_OVERHEAD = 512;

/** The memory key of a variant (`urlKey` alone for responses without Vary). */
export function variantKey(urlKey: string, variant: string): string {
  return variant === "" ? urlKey : `${urlKey}\u0000${variant}`;
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return false;
  return true;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The parts of an item that come from its stored header fields. */
type HeaderParts =
  & Pick<
    MemoryItem,
    | "contentType"
    | "fields"
    | "upstreamStatus"
    | "etag"
    | "lastModified"
    | "coding"
    | "compressibleType"
    | "noTransform"
  >
  & { headerSize: number };

function headerParts(headers: readonly [string, string][]): HeaderParts {
  let contentType: string | null = null;
  let upstreamStatus: string | null = null;
  let etag: string | null = null;
  let lastModified: string | null = null;
  const fields: string[] = [];
  let headerSize = 0;
  for (const [name, value] of headers) {
    headerSize += (name.length + value.length) * 2 + 32;
    if (name === "content-type" && contentType === null) contentType = value;
    else if (name === "cache-status") upstreamStatus = value;
    else {
      if (name === "etag") etag = value;
      else if (name === "last-modified") lastModified = value;
      fields.push(name, value);
    }
  }
  const view = headerView(headers);
  return {
    contentType,
    fields,
    upstreamStatus,
    etag,
    lastModified,
    coding: contentCoding(view.get("content-encoding")) ?? null,
    compressibleType: isCompressible(contentType),
    noTransform: parseResponseDirectives(view.get("cache-control")).noTransform ||
      edgeDirectives(view).directives.noTransform,
    headerSize,
  };
}

/** Builds a memory item from an entry and its body bytes. */
export function makeItem(entry: StoredEntry, body: Uint8Array): MemoryItem {
  let text: string | null = null;
  let bodySize = body.byteLength;
  try {
    text = utf8.decode(body);
    // V8 keeps ASCII strings at one byte per character, others at two.
    if (!isAscii(body)) bodySize = text.length * 2;
  } catch {
    text = null;
  }
  const { headerSize, ...parts } = headerParts(entry.headers);
  return {
    kind: "entry",
    entry,
    body: text ?? body,
    ...parts,
    size: ITEM_OVERHEAD + TEMPLATE_OVERHEAD + bodySize + headerSize * 2 + entry.key.length * 4 +
      entry.variant.length * 2,
  };
}

/**
 * The same stored body under other header fields (a representation whose body is the item's own,
 * or is produced from it as it is sent). Its `size` counts only what it adds.
 */
export function reheader(item: MemoryItem, headers: [string, string][]): MemoryItem {
  const { headerSize, ...parts } = headerParts(headers);
  return {
    kind: "entry",
    entry: { ...item.entry, headers },
    body: item.body,
    ...parts,
    size: ITEM_OVERHEAD + TEMPLATE_OVERHEAD + headerSize * 2,
  };
}

/** The memory tier. A budget of 0 bytes disables it (every call is a no-op or a miss). */
export class MemoryTier {
  readonly maxBytes: number;
  /** Largest item kept (a few large ones cannot flush the rest). */
  readonly maxEntryBytes: number;
  readonly #lru: LRUCache<string, Item> | null;
  readonly #byUrl = new Map<string, Set<string>>();
  readonly #byTag = new Map<string, Set<string>>();
  readonly #tagsOf = new Map<string, readonly string[]>();
  /** Bumped by every purge: a fill that started before one does not land in memory. */
  epoch = 0;

  constructor(options: { maxBytes: number; maxEntryBytes?: number }) {
    this.maxBytes = options.maxBytes;
    this.maxEntryBytes = Math.min(options.maxBytes, options.maxEntryBytes ?? options.maxBytes);
    this.#lru = options.maxBytes > 0
      ? new LRUCache<string, Item>({
        maxSize: options.maxBytes,
        maxEntrySize: this.maxEntryBytes,
        sizeCalculation: (item) => item.size,
        dispose: (item, key, reason) => {
          if (reason !== "set") this.#unindex(key, item);
        },
      })
      : null;
  }

  /** True when the tier holds anything at all (the fast path's first check). */
  get enabled(): boolean {
    return this.#lru !== null;
  }

  /** Bytes currently accounted (never more than `maxBytes`). */
  get bytes(): number {
    return this.#lru?.calculatedSize ?? 0;
  }

  /** Number of items (entries and Vary markers). */
  get count(): number {
    return this.#lru?.size ?? 0;
  }

  /** The item at a memory key (marks it recently used). */
  get(key: string): Item | undefined {
    return this.#lru?.get(key);
  }

  /** Stores an entry; returns false when it does not fit the budget. */
  setEntry(item: MemoryItem): boolean {
    const lru = this.#lru;
    if (lru === null) return false;
    const { key, variant, tags } = item.entry;
    const k = variantKey(key, variant);
    this.#unindex(k, null);
    lru.set(k, item);
    if (lru.peek(k) !== item) {
      lru.delete(k); // too large: an older copy must not linger unindexed
      return false;
    }
    this.#index(k, key, tags);
    return true;
  }

  /**
   * Whether `item` is the one held for its key (a representation derived from it may then be
   * kept with it).
   */
  holds(item: MemoryItem): boolean {
    return this.#lru?.peek(variantKey(item.entry.key, item.entry.variant)) === item;
  }

  /**
   * Accounts `extra` more bytes to an item held now (a derived representation was attached to
   * it). False, and nothing changed, when it is not held or would outgrow the per-item limit.
   */
  grow(item: MemoryItem, extra: number): boolean {
    const lru = this.#lru;
    if (lru === null || !this.holds(item) || item.size + extra > this.maxEntryBytes) return false;
    const k = variantKey(item.entry.key, item.entry.variant);
    // lru-cache sizes a value when it is set, and not again when the same value is set anew.
    lru.delete(k);
    item.size += extra;
    return this.setEntry(item);
  }

  /** Records that responses at `urlKey` vary on `vary`. */
  setVary(urlKey: string, vary: string[]): void {
    const lru = this.#lru;
    if (lru === null) return;
    this.#unindex(urlKey, null);
    lru.set(urlKey, { kind: "vary", vary, size: ITEM_OVERHEAD + urlKey.length * 2 });
    if (lru.peek(urlKey)?.kind === "vary") this.#index(urlKey, urlKey, []);
  }

  /** Drops one memory key. */
  delete(key: string): void {
    this.#lru?.delete(key);
  }

  /** Drops everything stored for a URL key (all variants); returns how many items. */
  deleteUrl(urlKey: string): number {
    const keys = this.#byUrl.get(urlKey);
    if (!keys) return 0;
    let n = 0;
    for (const k of [...keys]) if (this.#lru?.delete(k)) n++;
    return n;
  }

  /** Drops every entry carrying `tag`; returns how many. */
  deleteTag(tag: string): number {
    const keys = this.#byTag.get(tag);
    if (!keys) return 0;
    let n = 0;
    for (const k of [...keys]) if (this.#lru?.delete(k)) n++;
    return n;
  }

  /** Drops everything. */
  clear(): void {
    this.#lru?.clear();
    this.#byUrl.clear();
    this.#byTag.clear();
    this.#tagsOf.clear();
  }

  #index(k: string, urlKey: string, tags: readonly string[]): void {
    let set = this.#byUrl.get(urlKey);
    if (!set) this.#byUrl.set(urlKey, set = new Set());
    set.add(k);
    if (tags.length === 0) return;
    this.#tagsOf.set(k, tags);
    for (const tag of tags) {
      let t = this.#byTag.get(tag);
      if (!t) this.#byTag.set(tag, t = new Set());
      t.add(k);
    }
  }

  #unindex(k: string, item: Item | null): void {
    const urlKey = item?.kind === "entry" ? item.entry.key : k.split("\u0000", 1)[0];
    const set = this.#byUrl.get(urlKey);
    if (set) {
      set.delete(k);
      if (set.size === 0) this.#byUrl.delete(urlKey);
    }
    const tags = this.#tagsOf.get(k);
    if (!tags) return;
    this.#tagsOf.delete(k);
    for (const tag of tags) {
      const t = this.#byTag.get(tag);
      if (!t) continue;
      t.delete(k);
      if (t.size === 0) this.#byTag.delete(tag);
    }
  }
}

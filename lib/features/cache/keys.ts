/**
 * Every Deno KV key the cache uses (listed in docs/kv.md). A URL key longer than
 * {@linkcode MAX_KV_URL_KEY} is replaced by its SHA-256, so no key exceeds KV's 2 KiB.
 */

import { sha256Hex } from "../../platform/hash.ts";

/** URL keys up to this many characters go into KV keys as they are. */
const MAX_KV_URL_KEY = 512;

/** The KV form of a URL key (`#<sha256>` when long) and of a variant (`""` or a hash). */
export interface KvSlot {
  url: string;
  variant: string;
}

/** Maps a memory key (URL key + variant values) to its KV slot. */
export async function kvSlot(urlKey: string, variantValues: string): Promise<KvSlot> {
  const url = urlKey.length <= MAX_KV_URL_KEY ? urlKey : `#${await sha256Hex(urlKey)}`;
  const variant = variantValues === "" ? "" : await sha256Hex(variantValues, 16);
  return { url, variant };
}

/** `["cache", "meta", url, variant]`: an entry's metadata (or, at variant "", a Vary marker). */
export function cacheMetaKey(slot: KvSlot): [string, string, string, string] {
  return ["cache", "meta", slot.url, slot.variant];
}

/** `["cache", "meta", url]`: every variant stored for one URL. */
export function cacheMetaPrefix(url: string): [string, string, string] {
  return ["cache", "meta", url];
}

/** `["cache", "body", version, index]`: one ≤ 60 KiB chunk of a body. */
export function cacheBodyKey(version: string, index: number): [string, string, string, number] {
  return ["cache", "body", version, index];
}

/** `["cache", "body", version]`: all chunks of one body version. */
export function cacheBodyPrefix(version: string): [string, string, string] {
  return ["cache", "body", version];
}

/** `["cache", "lease", url, variant]`: who is fetching this entry from the origin right now. */
export function cacheLeaseKey(slot: KvSlot): [string, string, string, string] {
  return ["cache", "lease", slot.url, slot.variant];
}

/** `["cache", "tag", tag, url, variant]`: the tag index used by purge-by-tag. */
export function cacheTagKey(tag: string, slot: KvSlot): [string, string, string, string, string] {
  return ["cache", "tag", tag, slot.url, slot.variant];
}

/** `["cache", "tag", tag]`: every entry carrying a tag. */
export function cacheTagPrefix(tag: string): [string, string, string] {
  return ["cache", "tag", tag];
}

/** `["cache", "purge", "head"]`: the last purge's sequence number (watched by every node). */
export function cachePurgeHeadKey(): [string, string, string] {
  return ["cache", "purge", "head"];
}

/** `["cache", "purge", "log", seq]`: one purge, replayed by nodes to drop memory copies. */
export function cachePurgeLogKey(seq: bigint): [string, string, string, bigint] {
  return ["cache", "purge", "log", seq];
}

/** `["cache", "purge", "log"]`: the purge log. */
export function cachePurgeLogPrefix(): [string, string, string] {
  return ["cache", "purge", "log"];
}

/**
 * `["cache", "idx", until, url, variant, version]`: one stored entry in the order it stops being
 * servable (its KV expiry), with the bytes it was counted for: what the budget evicts first and
 * what the sweep removes once `until` has passed.
 */
export function cacheIndexKey(
  until: number,
  slot: KvSlot,
  version: string,
): [string, string, number, string, string, string] {
  return ["cache", "idx", until, slot.url, slot.variant, version];
}

/** `["cache", "idx"]`: the whole index, soonest-expiring first. */
export function cacheIndexPrefix(): [string, string] {
  return ["cache", "idx"];
}

/** `["cache", "usage", "added" | "removed"]`: bytes ever counted in and out (`Deno.KvU64`). */
export function cacheUsageKey(which: "added" | "removed"): [string, string, string] {
  return ["cache", "usage", which];
}

/**
 * What the cache stores: a response's status, headers, timing and body (inline or in chunks),
 * plus the Vary marker kept at a URL whose responses vary. The zod schemas check what is read
 * back from KV, which an older version or a bug may have written.
 */

import { z } from "zod";
import type { EntryTiming } from "./freshness.ts";

/** One stored response (its body lives beside it). */
export interface StoredEntry {
  /** The URL part of the key (memory key of an entry without Vary). */
  key: string;
  /** The request's values of the Vary headers (`""` without Vary). */
  variant: string;
  status: number;
  /** Response header fields to replay, lower-case names, in order. */
  headers: [string, string][];
  timing: EntryTiming;
  vary: string[];
  tags: string[];
  /** Body length in bytes. */
  size: number;
  /** Identifies this body's chunks in KV. */
  version: string;
  /** Number of KV chunks; 0 when the body is inline in the metadata value. */
  chunks: number;
  /**
   * How the KV tier counts this entry against its budget: the index key's instant (`until`) and
   * the bytes added to the usage counter. Absent in memory-only copies and older KV values.
   */
  kv?: { until: number; bytes: number };
}

/** Response fields never stored: per-connection, per-hop or recomputed when serving. */
const NOT_STORED = new Set([
  "age",
  "connection",
  "content-length",
  "keep-alive",
  "outpost-cache-control",
  "proxy-connection",
  "server-timing",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "x-cache",
  "x-request-id",
  "x-served-by",
  "x-upstream-region", // says which origin answered this request; a hit had none
]);

/** Fields a 304 must not change in the stored response (RFC 9111 §3.2). */
const NOT_UPDATED = new Set(["content-length", "content-encoding", "content-range"]);

/** Stored header fields from a response; `strip` names fields a shared cache must not keep. */
export function storedHeaders(
  headers: Headers,
  strip: readonly string[],
  responseTime: number,
): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of headers) {
    if (NOT_STORED.has(name) || strip.includes(name)) continue;
    out.push([name, value]);
  }
  if (!headers.has("date")) out.push(["date", new Date(responseTime).toUTCString()]);
  return out;
}

/** The stored fields updated by a 304's fields (RFC 9111 §3.2, §4.3.4). */
export function mergeHeaders(
  stored: readonly [string, string][],
  fresh: Headers,
): [string, string][] {
  const replaced = new Set<string>();
  for (const [name] of fresh) {
    if (!NOT_STORED.has(name) && !NOT_UPDATED.has(name)) replaced.add(name);
  }
  const out = stored.filter(([name]) => !replaced.has(name));
  for (const [name, value] of fresh) if (replaced.has(name)) out.push([name, value]);
  return out;
}

/** Looks a field up in stored headers (first occurrence, lower-case name). */
function headerOf(headers: readonly [string, string][], name: string): string | null {
  for (const [n, v] of headers) if (n === name) return v;
  return null;
}

/** A `get(name)` view over stored headers (for the pure freshness functions). */
export function headerView(
  headers: readonly [string, string][],
): { get(name: string): string | null } {
  return { get: (name) => headerOf(headers, name) };
}

const TimingSchema = z.object({
  responseTime: z.number().finite(),
  initialAgeMs: z.number().finite().min(0),
  freshMs: z.number().finite().min(0),
  swrMs: z.number().finite().min(0),
  sieMs: z.number().finite().min(0),
  noCache: z.boolean(),
  mustRevalidate: z.boolean(),
  sMaxAge: z.boolean(),
  authOk: z.boolean(),
  keepMs: z.number().finite().min(0),
  invalidatedAt: z.number().finite().optional(),
});

const EntrySchema = z.object({
  key: z.string().min(1).max(8192),
  variant: z.string().max(65536),
  status: z.number().int().min(200).max(599),
  headers: z.array(z.tuple([z.string().max(256), z.string().max(65536)])).max(512),
  timing: TimingSchema,
  vary: z.array(z.string().max(64)).max(64),
  tags: z.array(z.string().max(128)).max(64),
  size: z.number().int().min(0),
  version: z.string().min(1).max(64),
  chunks: z.number().int().min(0).max(100_000),
  kv: z.object({
    until: z.number().finite(),
    bytes: z.number().int().min(0),
  }).optional(),
});

/** The value stored at a metadata key: an entry (maybe with its body inline) or a Vary marker. */
export const MetaValueSchema = z.discriminatedUnion("kind", [
  z.object({
    v: z.literal(1),
    kind: z.literal("entry"),
    entry: EntrySchema,
    body: z.custom<Uint8Array>((v) => v instanceof Uint8Array).optional(),
  }),
  z.object({
    v: z.literal(1),
    kind: z.literal("vary"),
    key: z.string(),
    vary: z.array(z.string()),
  }),
]);

/** A metadata value as stored. */
export type MetaValue = z.infer<typeof MetaValueSchema>;

/** A fresh id for a body version (random, so chunks of two writers never mix). */
export function newVersion(now: number): string {
  return `${now.toString(36)}-${crypto.randomUUID().slice(0, 13).replace("-", "")}`;
}

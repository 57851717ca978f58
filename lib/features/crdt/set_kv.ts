/**
 * How an OR-Set sits in KV, one key per element (its live dots) plus a head key (causal context
 * and size). Every write to a set rewrites the head, so the head's versionstamp is the set's
 * version: one check on it guards a whole read-modify-write. Shared by local ops and merges.
 */

import { z } from "zod";
import type { CausalContext, Dot } from "./dots.ts";
import { EMPTY_CONTEXT, sameDot } from "./dots.ts";
import { setContextKey, setElementKey, setElementsPrefix } from "./keys.ts";
import { MAX_REPLICAS } from "./names.ts";
import type { OrSet } from "./orset.ts";
import { reportInvalid, type StoreContext } from "./store_context.ts";
import { contextToWire, ContextWireSchema, DotSchema, WIRE_VERSION } from "./wire.ts";

const StoredHeadSchema = z.object({
  v: z.literal(WIRE_VERSION),
  vv: z.unknown(),
  cloud: z.unknown(),
  size: z.number().int().min(0),
}).transform((h, ctx) => {
  const parsed = ContextWireSchema.safeParse({ vv: h.vv, cloud: h.cloud });
  if (!parsed.success) {
    ctx.addIssue({ code: "custom", message: "Invalid context" });
    return z.NEVER;
  }
  return { context: parsed.data, size: h.size };
});
const StoredDotsSchema = z.array(DotSchema).min(1).max(MAX_REPLICAS);

/** The largest head value written (KV values stop at 64 KiB). */
const MAX_HEAD_BYTES = 60_000;

/** A set's head as read, with the entry to check on commit. */
export interface Head {
  entry: Deno.KvEntryMaybe<unknown>;
  context: CausalContext;
  size: number;
}

/** A piece of a set's full state covering the element keys in `[from, to)` (null: unbounded). */
export interface SetChunk {
  from: string | null;
  to: string | null;
  /** The last chunk: its context is the whole set's and is merged into the receiver's. */
  final: boolean;
  state: OrSet;
}

/** The stored form of a head; refuses one too large for a KV value. */
export function encodeHead(context: CausalContext, size: number): Record<string, unknown> {
  const value = { v: WIRE_VERSION, ...contextToWire(context), size };
  if (JSON.stringify(value).length > MAX_HEAD_BYTES) {
    throw new Error("Set context too large to store (more than 60 KB of out-of-order dots)");
  }
  return value;
}

/** Dots as `[replica, counter]` pairs. */
export function dotsToWire(dots: readonly Dot[]): [string, number][] {
  return dots.map((d) => [d.replica, d.counter]);
}

/** True when both lists hold the same dots. */
export function sameDots(a: readonly Dot[], b: readonly Dot[]): boolean {
  return a.length === b.length && a.every((d) => b.some((x) => sameDot(x, d)));
}

/** Reads a set's head (empty for a new set); throws on an unreadable one. */
export async function readHead(ctx: StoreContext, name: string): Promise<Head> {
  const entry = await ctx.kv.get(setContextKey(name));
  if (entry.value === null) return { entry, context: EMPTY_CONTEXT, size: 0 };
  const parsed = StoredHeadSchema.safeParse(entry.value);
  if (!parsed.success) {
    // Refuse to write over a head we cannot read: it holds what removes are remembered by.
    reportInvalid(ctx, "set", entry.key);
    throw new Error(`Unreadable set head: ${name}`);
  }
  return { entry, ...parsed.data };
}

/** An element's stored dots (none when absent; an invalid value is reported and skipped). */
export function parseDots(ctx: StoreContext, key: Deno.KvKey, value: unknown): Dot[] {
  if (value === null) return [];
  const parsed = StoredDotsSchema.safeParse(value);
  if (!parsed.success) {
    reportInvalid(ctx, "set", key);
    return [];
  }
  return parsed.data.map(([replica, counter]) => ({ replica, counter }));
}

/** The live dots of the named elements (absent ones are left out). */
export async function readElements(
  ctx: StoreContext,
  name: string,
  elements: readonly string[],
): Promise<Map<string, Dot[]>> {
  const out = new Map<string, Dot[]>();
  const groups: string[][] = [];
  for (let i = 0; i < elements.length; i += 10) groups.push(elements.slice(i, i + 10));
  const results = await Promise.all(
    groups.map((g) => ctx.kv.getMany(g.map((e) => setElementKey(name, e)))),
  );
  results.flat().forEach((entry) => {
    const dots = parseDots(ctx, entry.key, entry.value);
    if (dots.length > 0) out.set(entry.key[4] as string, dots);
  });
  return out;
}

/** Every element with its dots in `[from, to)` (null: unbounded), in key order. */
export async function listElements(
  ctx: StoreContext,
  name: string,
  from: string | null,
  to: string | null,
  consistency: Deno.KvConsistencyLevel = "strong",
): Promise<Map<string, Dot[]>> {
  const prefix = setElementsPrefix(name);
  const selector: Deno.KvListSelector = from === null && to === null
    ? { prefix }
    : from === null
    ? { prefix, end: [...prefix, to!] }
    : to === null
    ? { prefix, start: [...prefix, from] }
    : { start: [...prefix, from], end: [...prefix, to] };
  const out = new Map<string, Dot[]>();
  for await (const e of ctx.kv.list(selector, { consistency, batchSize: 1000 })) {
    const dots = parseDots(ctx, e.key, e.value);
    if (dots.length > 0 && typeof e.key[4] === "string") out.set(e.key[4], dots);
  }
  return out;
}

/**
 * Up to `limit` live elements after `after` (exclusive; from the start when null) in key order,
 * and whether more follow: one page of a large set.
 */
export async function listElementPage(
  ctx: StoreContext,
  name: string,
  after: string | null,
  limit: number,
  consistency: Deno.KvConsistencyLevel = "strong",
): Promise<{ elements: string[]; more: boolean }> {
  const prefix = setElementsPrefix(name);
  const selector: Deno.KvListSelector = after === null
    ? { prefix }
    : { prefix, start: [...prefix, after] };
  const elements: string[] = [];
  const batchSize = Math.min(1000, limit + 1);
  for await (const e of ctx.kv.list(selector, { consistency, batchSize })) {
    const element = e.key[4];
    if (typeof element !== "string" || element === after) continue;
    if (parseDots(ctx, e.key, e.value).length === 0) continue;
    if (elements.length === limit) return { elements, more: true };
    elements.push(element);
  }
  return { elements, more: false };
}

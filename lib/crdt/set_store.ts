/**
 * OR-Sets in KV, one key per element (its live dots) plus a head key (causal context and size).
 * Every write to a set rewrites the head, so the head's versionstamp is the set's version: a
 * local op or a merge reads the head and the elements it touches, and commits with one check on
 * the head. A merge touches only the elements a delta names (or, for a full-state chunk, the
 * elements in its key range), so a 100,000-element set is never read whole to apply a delta.
 */

import { z } from "zod";
import { casRetry, CONFLICT } from "../kv/cas_retry.ts";
import {
  addDots,
  type CausalContext,
  contextsEqual,
  type Dot,
  EMPTY_CONTEXT,
  sameDot,
} from "./dots.ts";
import { indexKey, setContextKey, setElementKey, setElementsPrefix } from "./keys.ts";
import { MAX_REPLICAS } from "./names.ts";
import { logOperation } from "./oplog.ts";
import { type OrSet, orsetAdd, orsetMerge, orsetRemove } from "./orset.ts";
import { CrdtLimitError, reportInvalid, type StoreContext } from "./store_context.ts";
import { contextToWire, ContextWireSchema, DotSchema, orsetToWire, WIRE_VERSION } from "./wire.ts";

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
interface Head {
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

function encodeHead(context: CausalContext, size: number): Record<string, unknown> {
  const value = { v: WIRE_VERSION, ...contextToWire(context), size };
  if (JSON.stringify(value).length > MAX_HEAD_BYTES) {
    throw new Error("Set context too large to store (more than 60 KB of out-of-order dots)");
  }
  return value;
}

function dotsToWire(dots: readonly Dot[]): [string, number][] {
  return dots.map((d) => [d.replica, d.counter]);
}

function sameDots(a: readonly Dot[], b: readonly Dot[]): boolean {
  return a.length === b.length && a.every((d) => b.some((x) => sameDot(x, d)));
}

async function readHead(ctx: StoreContext, name: string): Promise<Head> {
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

function parseDots(ctx: StoreContext, key: Deno.KvKey, value: unknown): Dot[] {
  if (value === null) return [];
  const parsed = StoredDotsSchema.safeParse(value);
  if (!parsed.success) {
    reportInvalid(ctx, "set", key);
    return [];
  }
  return parsed.data.map(([replica, counter]) => ({ replica, counter }));
}

async function readElements(
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

async function listElements(
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

/** Adds an element at this replica. True when it was not there before. */
export function addElement(ctx: StoreContext, name: string, element: string): Promise<boolean> {
  return casRetry(`set ${name}`, async () => {
    const [head, local] = await Promise.all([
      readHead(ctx, name),
      readElements(ctx, name, [element]),
    ]);
    const dots = local.get(element) ?? [];
    if (dots.length === 0 && head.size >= ctx.limits.maxSetElements) {
      throw new CrdtLimitError("set", `Set ${name} is full: ${head.size} elements`);
    }
    const m = orsetAdd({ entries: local, context: head.context }, ctx.replica, element);
    const size = head.size + (dots.length === 0 ? 1 : 0);
    const op = ctx.kv.atomic().check(head.entry)
      .set(setContextKey(name), encodeHead(m.state.context, size))
      .set(setElementKey(name, element), dotsToWire(m.state.entries.get(element)!));
    if (head.entry.value === null) op.set(indexKey("set", name), { at: ctx.clock.now() });
    logOperation(
      op,
      { at: ctx.clock.now(), type: "set", name, delta: m.delta },
      ctx.logRetentionMs,
    );
    if (!(await op.commit()).ok) return CONFLICT;
    ctx.metrics.ops.inc({ type: "set", op: "add" });
    return dots.length === 0;
  }, { onConflict: () => ctx.metrics.conflicts.inc({ type: "set" }) });
}

/** Removes an element (the adds this replica has seen). True when it was there. */
export function removeElement(ctx: StoreContext, name: string, element: string): Promise<boolean> {
  return casRetry(`set ${name}`, async () => {
    const [head, local] = await Promise.all([
      readHead(ctx, name),
      readElements(ctx, name, [element]),
    ]);
    if (!local.has(element)) return false;
    const m = orsetRemove({ entries: local, context: head.context }, element);
    const op = ctx.kv.atomic().check(head.entry)
      .set(setContextKey(name), encodeHead(head.context, head.size - 1))
      .delete(setElementKey(name, element));
    logOperation(
      op,
      { at: ctx.clock.now(), type: "set", name, delta: m.delta },
      ctx.logRetentionMs,
    );
    if (!(await op.commit()).ok) return CONFLICT;
    ctx.metrics.ops.inc({ type: "set", op: "remove" });
    return true;
  }, { onConflict: () => ctx.metrics.conflicts.inc({ type: "set" }) });
}

/** The live elements, in key order (by code point). */
export async function readSetElements(
  ctx: StoreContext,
  name: string,
  consistency: Deno.KvConsistencyLevel = "strong",
): Promise<string[]> {
  return [...(await listElements(ctx, name, null, null, consistency)).keys()];
}

/**
 * The full state. The head is read first and every listed dot is added to it, so the result
 * lies between the state at the first read and the state at the last (safe to send anywhere).
 */
export async function readSet(ctx: StoreContext, name: string): Promise<OrSet> {
  const head = await readHead(ctx, name);
  const entries = await listElements(ctx, name, null, null);
  return { entries, context: addDots(head.context, [...entries.values()].flat()) };
}

/** The full state in chunks of about `maxBytes` of JSON, for a full sync (same read order). */
export async function* readSetChunks(
  ctx: StoreContext,
  name: string,
  maxBytes: number,
): AsyncGenerator<SetChunk> {
  const head = await readHead(ctx, name);
  let from: string | null = null;
  let entries = new Map<string, Dot[]>();
  let bytes = 0;
  const chunk = (to: string | null): SetChunk => ({
    from,
    to,
    final: to === null,
    state: { entries, context: addDots(head.context, [...entries.values()].flat()) },
  });
  for await (const e of ctx.kv.list({ prefix: setElementsPrefix(name) }, { batchSize: 1000 })) {
    const element = e.key[4];
    const dots = parseDots(ctx, e.key, e.value);
    if (typeof element !== "string" || dots.length === 0) continue;
    const size = element.length * 3 + dots.length * 40 + 16;
    if (bytes + size > maxBytes && entries.size > 0) {
      yield chunk(element);
      from = element;
      entries = new Map();
      bytes = 0;
    }
    entries.set(element, dots);
    bytes += size;
  }
  yield chunk(null);
}

/** Relayed deltas larger than this are left to the periodic full exchange (KV value limit). */
const MAX_RELAYED_BYTES = 50_000;

/**
 * Merges a delta (it touches only the elements it names). True when anything changed; with
 * `relayIt` the delta is then logged too, so this node passes it on to its own peers.
 */
export function mergeSetDelta(
  ctx: StoreContext,
  name: string,
  delta: OrSet,
  relayIt = true,
): Promise<boolean> {
  const named = [...delta.entries.keys()];
  const relay = relayIt && JSON.stringify(orsetToWire(delta)).length <= MAX_RELAYED_BYTES
    ? delta
    : null;
  return applyMerge(
    ctx,
    name,
    () => readElements(ctx, name, named),
    delta,
    (_head, merged) => addDots(merged.context, [...merged.entries.values()].flat()),
    relay,
  );
}

/**
 * Merges a full-state chunk: every local element in the chunk's range is merged with the
 * chunk's entries under the chunk's context. Only the final chunk's context joins ours; the
 * others add just their entries' dots, so elements in later chunks are not judged removed.
 */
export function mergeSetChunk(ctx: StoreContext, name: string, chunk: SetChunk): Promise<boolean> {
  return applyMerge(
    ctx,
    name,
    () => listElements(ctx, name, chunk.from, chunk.to),
    chunk.state,
    (head, merged) => {
      const dots = [...merged.entries.values()].flat();
      const base = chunk.final ? merged.context : head.context;
      return addDots(base, dots);
    },
    null,
  );
}

/** Mutations per commit, kept well inside KV's limits (1000 mutations, 80 KiB of keys). */
const BATCH_MUTATIONS = 400;
const BATCH_KEY_BYTES = 60_000;

function applyMerge(
  ctx: StoreContext,
  name: string,
  loadLocal: () => Promise<Map<string, Dot[]>>,
  remote: OrSet,
  nextContext: (head: Head, merged: OrSet) => CausalContext,
  relay: OrSet | null,
): Promise<boolean> {
  return casRetry(`set ${name}`, async () => {
    const head = await readHead(ctx, name);
    const local = await loadLocal();
    const merged = orsetMerge({ entries: local, context: head.context }, remote);
    const changes: [string, readonly Dot[]][] = [];
    for (const element of new Set([...local.keys(), ...remote.entries.keys()])) {
      const before = local.get(element) ?? [];
      const after = merged.entries.get(element) ?? [];
      if (!sameDots(before, after)) changes.push([element, after]);
    }
    const finalContext = nextContext(head, merged);
    if (changes.length === 0 && contextsEqual(finalContext, head.context)) {
      ctx.metrics.merges.inc({ type: "set", changed: "false" });
      return false;
    }
    // Commit in batches; each checks the head we last wrote, so any interleaving write makes
    // the next batch fail and the whole merge restart from a fresh read (merges are idempotent).
    let versionstamp = head.entry.versionstamp;
    let size = head.size;
    let context = head.context;
    let i = 0;
    do {
      const op = ctx.kv.atomic().check({ key: setContextKey(name), versionstamp });
      let keyBytes = 0;
      let n = 0;
      for (; i < changes.length && n < BATCH_MUTATIONS && keyBytes < BATCH_KEY_BYTES; i++, n++) {
        const [element, dots] = changes[i];
        const had = local.has(element);
        if (dots.length === 0) op.delete(setElementKey(name, element));
        else op.set(setElementKey(name, element), dotsToWire(dots));
        size += (dots.length > 0 ? 1 : 0) - (had ? 1 : 0);
        context = addDots(context, dots);
        keyBytes += element.length * 3 + name.length + 32;
      }
      const last = i >= changes.length;
      op.set(setContextKey(name), encodeHead(last ? finalContext : context, size));
      if (head.entry.value === null && versionstamp === null) {
        op.set(indexKey("set", name), { at: ctx.clock.now() });
      }
      if (last && relay) {
        logOperation(
          op,
          { at: ctx.clock.now(), type: "set", name, delta: relay },
          ctx.logRetentionMs,
        );
      }
      const res = await op.commit();
      if (!res.ok) return CONFLICT;
      versionstamp = res.versionstamp;
    } while (i < changes.length);
    ctx.metrics.merges.inc({ type: "set", changed: "true" });
    return true;
  }, { onConflict: () => ctx.metrics.conflicts.inc({ type: "set" }), maxAttempts: 8 });
}

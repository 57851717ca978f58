/**
 * OR-Set operations on this node's replica in KV: add and remove (one head check per commit),
 * and reads of the elements or the full state. Merges of remote state are in `set_merge.ts`.
 */

import { addDots, type Dot } from "./dots.ts";
import { indexKey, setContextKey, setElementKey, setElementsPrefix } from "./keys.ts";
import { casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import { logOperation } from "./oplog.ts";
import { type OrSet, orsetAdd, orsetRemove } from "./orset.ts";
import { CrdtLimitError, type StoreContext } from "./store_context.ts";
import {
  dotsToWire,
  encodeHead,
  listElements,
  parseDots,
  readElements,
  readHead,
  type SetChunk,
} from "./set_kv.ts";

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
  }, { onConflict: () => ctx.metrics.conflicts.inc({ type: "set" }), lane: ctx.kv });
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
  }, { onConflict: () => ctx.metrics.conflicts.inc({ type: "set" }), lane: ctx.kv });
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

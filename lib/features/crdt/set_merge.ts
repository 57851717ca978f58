/**
 * Merging remote OR-Set state into KV. A delta touches only the elements it names; a full-state
 * chunk, every element in its key range. Large merges commit in batches, each checked on the
 * head this merge last wrote, so a 100,000-element set is never read whole to apply a delta and
 * an interleaving write restarts the (idempotent) merge instead of being overwritten.
 */

import { addDots, type CausalContext, contextsEqual, type Dot } from "./dots.ts";
import { indexKey, setContextKey, setElementKey } from "./keys.ts";
import { casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import { logOperation } from "./oplog.ts";
import { type OrSet, orsetMerge, withoutForgedDots } from "./orset.ts";
import type { StoreContext } from "./store_context.ts";
import {
  dotsToWire,
  encodeHead,
  type Head,
  listElements,
  readElements,
  readHead,
  sameDots,
  type SetChunk,
} from "./set_kv.ts";
import { orsetToWire } from "./wire.ts";

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
    // Only other replicas' adds come from peers; this replica's own are its to mint.
    const clean = withoutForgedDots(remote, ctx.replica, head.context);
    const merged = orsetMerge({ entries: local, context: head.context }, clean);
    const changes: [string, readonly Dot[]][] = [];
    for (const element of new Set([...local.keys(), ...clean.entries.keys()])) {
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
  }, { onConflict: () => ctx.metrics.conflicts.inc({ type: "set" }), lane: ctx.kv });
}

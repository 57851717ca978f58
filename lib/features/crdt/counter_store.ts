/**
 * PN-Counters in KV. Each replica owns one `Deno.KvU64` slot per half: a local increment is an
 * atomic `sum` on this node's slot (no read-modify-write, so concurrent increments from any
 * number of isolates never lose one), and a remote merge is an atomic `max` per slot, which is
 * exactly the G-Counter join, so it needs no versionstamp check either.
 */

import { type CounterHalf, counterPrefix, counterSlotKey, indexKey } from "./keys.ts";
import { ReplicaIdSchema } from "./names.ts";
import { logOperation } from "./oplog.ts";
import {
  EMPTY_PNCOUNTER,
  type PNCounter,
  pncounterDecrement,
  pncounterIncrement,
} from "./pncounter.ts";
import { CrdtLimitError, reportInvalid, type StoreContext } from "./store_context.ts";

/** A slot may not pass this, so sums from concurrent isolates stay exact JS integers. */
const SLOT_LIMIT = 2 ** 52;

/** Reads every slot of a counter. */
export async function readCounter(
  ctx: StoreContext,
  name: string,
  consistency: Deno.KvConsistencyLevel = "strong",
): Promise<PNCounter> {
  const p = new Map<string, number>();
  const n = new Map<string, number>();
  for await (const e of ctx.kv.list({ prefix: counterPrefix(name) }, { consistency })) {
    const [, , , half, replica] = e.key;
    const value = e.value;
    if (
      (half !== "p" && half !== "n") || !ReplicaIdSchema.safeParse(replica).success ||
      !(value instanceof Deno.KvU64) || value.value > BigInt(Number.MAX_SAFE_INTEGER)
    ) {
      reportInvalid(ctx, "counter", e.key);
      continue;
    }
    (half === "p" ? p : n).set(replica as string, Number(value.value));
  }
  return p.size === 0 && n.size === 0 ? EMPTY_PNCOUNTER : { p: { counts: p }, n: { counts: n } };
}

/** Adds `by` to this replica's `p` (increment) or `n` (decrement) slot; returns the new state. */
export async function changeCounter(
  ctx: StoreContext,
  name: string,
  half: CounterHalf,
  by: number,
): Promise<PNCounter> {
  if (!Number.isSafeInteger(by) || by < 1 || by > ctx.limits.maxStep) {
    throw new RangeError(`Invalid step: ${by}`);
  }
  const before = await readCounter(ctx, name);
  const own = before[half].counts.get(ctx.replica) ?? 0;
  if (own + by > SLOT_LIMIT) {
    throw new CrdtLimitError("counter", `Counter ${name} has reached its limit`);
  }
  const at = ctx.clock.now();
  const op = ctx.kv.atomic().sum(counterSlotKey(name, half, ctx.replica), BigInt(by));
  if (before.p.counts.size === 0 && before.n.counts.size === 0) {
    op.set(indexKey("counter", name), { at });
  }
  logOperation(op, { at, type: "counter", name }, ctx.logRetentionMs);
  await op.commit();
  ctx.metrics.ops.inc({ type: "counter", op: half === "p" ? "increment" : "decrement" });
  return (half === "p" ? pncounterIncrement : pncounterDecrement)(before, ctx.replica, by).state;
}

/**
 * Merges a remote counter: `max` into each slot it is ahead on. True when anything changed; with
 * `relay` a change is logged too, so this node passes it on to its own peers.
 */
export async function mergeCounter(
  ctx: StoreContext,
  name: string,
  remote: PNCounter,
  relay = true,
): Promise<boolean> {
  const local = await readCounter(ctx, name);
  const op = ctx.kv.atomic();
  let changes = 0;
  for (const half of ["p", "n"] as const) {
    for (const [replica, count] of remote[half].counts) {
      // This replica's own slots change only by its own increments, never by a peer's claim.
      if (replica === ctx.replica || count > SLOT_LIMIT) continue;
      if (count > (local[half].counts.get(replica) ?? 0)) {
        op.max(counterSlotKey(name, half, replica), BigInt(count));
        changes++;
      }
    }
  }
  ctx.metrics.merges.inc({ type: "counter", changed: String(changes > 0) });
  if (changes === 0) return false;
  if (local.p.counts.size === 0 && local.n.counts.size === 0) {
    op.set(indexKey("counter", name), { at: ctx.clock.now() });
  }
  if (relay) logOperation(op, { at: ctx.clock.now(), type: "counter", name }, ctx.logRetentionMs);
  await op.commit();
  return true;
}

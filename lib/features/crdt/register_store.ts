/** LWW-Registers in KV: one entry per register, written with a versionstamp check. */

import { casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import { lwwMerge, type LwwRegister, lwwSet } from "./lww.ts";
import { indexKey, registerKey } from "./keys.ts";
import { logOperation } from "./oplog.ts";
import { CrdtLimitError, reportInvalid, type StoreContext } from "./store_context.ts";
import { lwwToWire, LwwWireSchema } from "./wire.ts";

/** The byte size of a value as JSON. */
export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).byteLength;
}

async function readEntry(
  ctx: StoreContext,
  name: string,
): Promise<{ entry: Deno.KvEntryMaybe<unknown>; register: LwwRegister | null }> {
  const entry = await ctx.kv.get(registerKey(name));
  if (entry.value === null) return { entry, register: null };
  const parsed = LwwWireSchema.safeParse(entry.value);
  if (!parsed.success) {
    // An unreadable value is overwritten by the next write, never merged.
    reportInvalid(ctx, "register", entry.key);
    return { entry, register: null };
  }
  return { entry, register: parsed.data };
}

/** The register, or null when never written. */
export async function readRegister(ctx: StoreContext, name: string): Promise<LwwRegister | null> {
  return (await readEntry(ctx, name)).register;
}

/** Writes `value` with a fresh hybrid timestamp after the current one. */
export function writeRegister(
  ctx: StoreContext,
  name: string,
  value: unknown,
): Promise<LwwRegister> {
  if (jsonBytes(value) > ctx.limits.maxRegisterBytes) {
    throw new CrdtLimitError("register", `Value exceeds ${ctx.limits.maxRegisterBytes} bytes`);
  }
  return casRetry(`register ${name}`, async () => {
    const { entry, register } = await readEntry(ctx, name);
    // The stored timestamp may be ahead of our clock (a peer's clock ran fast): follow it.
    if (register) ctx.hlc.observe(register.ts);
    const ts = ctx.hlc.now();
    const next = lwwSet(register, value, ts).state;
    const op = ctx.kv.atomic().check(entry).set(registerKey(name), lwwToWire(next));
    if (entry.value === null) op.set(indexKey("register", name), { at: ctx.clock.now() });
    logOperation(op, { at: ctx.clock.now(), type: "register", name }, ctx.logRetentionMs);
    if (!(await op.commit()).ok) return CONFLICT;
    ctx.metrics.ops.inc({ type: "register", op: "set" });
    return next;
  }, { onConflict: () => ctx.metrics.conflicts.inc({ type: "register" }), lane: ctx.kv });
}

/** Merges a remote register (the later write wins). True when it won here (relayed if asked). */
export function mergeRegister(
  ctx: StoreContext,
  name: string,
  remote: LwwRegister,
  relay = true,
): Promise<boolean> {
  return casRetry(`register ${name}`, async () => {
    const { entry, register } = await readEntry(ctx, name);
    const merged = lwwMerge(register, remote);
    if (register !== null && merged === register) {
      ctx.metrics.merges.inc({ type: "register", changed: "false" });
      return false;
    }
    const op = ctx.kv.atomic().check(entry).set(registerKey(name), lwwToWire(remote));
    if (entry.value === null) op.set(indexKey("register", name), { at: ctx.clock.now() });
    if (relay) {
      logOperation(op, { at: ctx.clock.now(), type: "register", name }, ctx.logRetentionMs);
    }
    if (!(await op.commit()).ok) return CONFLICT;
    ctx.hlc.observe(remote.ts);
    ctx.metrics.merges.inc({ type: "register", changed: "true" });
    return true;
  }, { onConflict: () => ctx.metrics.conflicts.inc({ type: "register" }), lane: ctx.kv });
}

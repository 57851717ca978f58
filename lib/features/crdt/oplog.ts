/**
 * The operation log: one small KV entry per local operation, keyed by time, from which the sync
 * job builds deltas for its peers. Entries carry the object and, for sets, the op's delta (a set
 * delta cannot be recomputed from state; counters and registers are sent whole, they are small).
 * The log is trimmed after `sync.logRetentionMs`; a peer further behind gets full state.
 */

import { z } from "zod";
import type { OrSet } from "./orset.ts";
import { type CrdtType, opLogKey, opLogPrefix } from "./keys.ts";
import { CrdtNameSchema } from "./names.ts";
import { orsetToWire, OrSetWireSchema, WIRE_VERSION } from "./wire.ts";

/** A logged operation, as read back. */
export interface LogEntry {
  at: number;
  id: string;
  type: CrdtType;
  name: string;
  /** For sets: the operation's delta. */
  delta?: OrSet;
}

const StoredEntrySchema = z.object({
  v: z.literal(WIRE_VERSION),
  t: z.enum(["counter", "set", "register"]),
  n: CrdtNameSchema,
  d: OrSetWireSchema.optional(),
});

/** A unique, roughly time-ordered id for a log entry. */
function newLogId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

/** Adds a log entry to an atomic operation (committed with the op it records). */
export function logOperation(
  op: Deno.AtomicOperation,
  entry: { at: number; type: CrdtType; name: string; delta?: OrSet },
  retentionMs: number,
): Deno.AtomicOperation {
  const value: Record<string, unknown> = { v: WIRE_VERSION, t: entry.type, n: entry.name };
  if (entry.delta) value.d = orsetToWire(entry.delta);
  // expireIn is only a lower bound; gcLog() deletes on time.
  return op.set(opLogKey(entry.at, newLogId()), value, { expireIn: retentionMs * 2 });
}

/** Entries at or after `from` (ms), oldest first. Unreadable ones are reported and skipped. */
export async function* readLog(
  kv: Deno.Kv,
  from: number,
  onInvalid?: (key: Deno.KvKey) => void,
): AsyncGenerator<LogEntry> {
  const iter = kv.list({ prefix: opLogPrefix(), start: [...opLogPrefix(), from] }, {
    batchSize: 500,
  });
  for await (const e of iter) {
    const [, , at, id] = e.key;
    const parsed = StoredEntrySchema.safeParse(e.value);
    if (typeof at !== "number" || typeof id !== "string" || !parsed.success) {
      onInvalid?.(e.key);
      continue;
    }
    yield { at, id, type: parsed.data.t, name: parsed.data.n, delta: parsed.data.d };
  }
}

/** Deletes entries older than `before` (ms); returns how many. */
export async function gcLog(kv: Deno.Kv, before: number): Promise<number> {
  let deleted = 0;
  let batch = kv.atomic();
  let size = 0;
  for await (const e of kv.list({ prefix: opLogPrefix(), end: [...opLogPrefix(), before] })) {
    batch.delete(e.key);
    if (++size === 500) {
      await batch.commit();
      deleted += size;
      batch = kv.atomic();
      size = 0;
    }
  }
  if (size > 0) {
    await batch.commit();
    deleted += size;
  }
  return deleted;
}

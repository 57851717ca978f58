/**
 * The purge log in KV: every purge gets the next sequence number, so every node can replay the
 * purges it has not seen and drop its memory copies. `kv.watch` on the head key is the trigger;
 * a polling job replays the log too, in case a watch stream breaks.
 */

import { z } from "zod";
import { casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import { cachePurgeHeadKey, cachePurgeLogKey, cachePurgeLogPrefix } from "./keys.ts";

/** One purge as recorded. */
export interface PurgeRecord {
  /** URL keys (memory keys without variant). */
  urls: string[];
  tags: string[];
  soft: boolean;
  at: number;
  region: string;
}

const PurgeRecordSchema = z.object({
  urls: z.array(z.string()).max(1000),
  tags: z.array(z.string()).max(1000),
  soft: z.boolean(),
  at: z.number(),
  region: z.string(),
});

/** How long purge records are kept; a node further behind drops its whole memory tier. */
const PURGE_LOG_TTL_MS = 24 * 3600 * 1000;
/** Records are split so each value stays well under KV's 64 KiB. */
const MAX_RECORD_CHARS = 48 * 1024;

/** Splits one purge into records small enough for KV values. */
export function splitRecord(record: PurgeRecord): PurgeRecord[] {
  const out: PurgeRecord[] = [];
  let current: PurgeRecord = { ...record, urls: [], tags: [] };
  let size = 0;
  const push = (field: "urls" | "tags", value: string) => {
    if (size + value.length > MAX_RECORD_CHARS && size > 0) {
      out.push(current);
      current = { ...record, urls: [], tags: [] };
      size = 0;
    }
    current[field].push(value);
    size += value.length + 4;
  };
  for (const u of record.urls) push("urls", u);
  for (const t of record.tags) push("tags", t);
  out.push(current);
  return out;
}

/** Appends records under consecutive sequence numbers and moves the head; returns the last. */
export function appendPurges(kv: Deno.Kv, records: PurgeRecord[]): Promise<bigint> {
  return casRetry("the purge log", async () => {
    const head = await kv.get<Deno.KvU64>(cachePurgeHeadKey());
    let seq = head.value instanceof Deno.KvU64 ? head.value.value : 0n;
    const op = kv.atomic().check(head);
    for (const record of records) {
      seq++;
      op.set(cachePurgeLogKey(seq), record, { expireIn: PURGE_LOG_TTL_MS });
    }
    op.set(cachePurgeHeadKey(), new Deno.KvU64(seq));
    return (await op.commit()).ok ? seq : CONFLICT;
  }, { lane: kv });
}

/** The head of the log (0 when nothing was ever purged). */
export async function purgeHead(kv: Deno.Kv): Promise<bigint> {
  const head = await kv.get<Deno.KvU64>(cachePurgeHeadKey());
  return head.value instanceof Deno.KvU64 ? head.value.value : 0n;
}

/** Records after `seq`, in order; `gap` is true when some were already expired. */
export async function purgesAfter(
  kv: Deno.Kv,
  seq: bigint,
): Promise<{ records: Array<{ seq: bigint; record: PurgeRecord | null }>; gap: boolean }> {
  const records: Array<{ seq: bigint; record: PurgeRecord | null }> = [];
  let expected = seq + 1n;
  let gap = false;
  const iter = kv.list(
    { start: cachePurgeLogKey(seq + 1n), end: [...cachePurgeLogPrefix(), true] },
    {
      limit: 10_000,
    },
  );
  for await (const item of iter) {
    const at = item.key[3];
    if (typeof at !== "bigint") continue;
    if (at !== expected) gap = true;
    expected = at + 1n;
    const parsed = PurgeRecordSchema.safeParse(item.value);
    records.push({ seq: at, record: parsed.success ? parsed.data : null });
  }
  return { records, gap };
}

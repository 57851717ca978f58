/**
 * The outbox: closed intervals waiting to reach the collector. Closing an interval is ONE atomic
 * commit that checks the interval's write counter is unchanged, marks the interval closed (every
 * ingest checks that mark, so no event can join a closed interval), and creates the outbox
 * record that from then on owns the interval's frozen aggregate. A record is deleted only after
 * the collector answered 2xx; its aggregate keys are then removed in bounded batches.
 */

import { ulid } from "../../platform/ulid.ts";
import { z } from "zod";
import type { Clock } from "../../core/clock.ts";
import { CasConflictError, casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import {
  aggregatePrefix,
  closedIntervalKey,
  garbageKey,
  garbagePrefix,
  openIntervalKey,
  openIntervalsPrefix,
  outboxKey,
  outboxPrefix,
} from "./keys.ts";

/** One outbox record (validated on read: older versions may have written it). */
const OutboxRecordSchema = z.object({
  v: z.literal(1),
  edge_id: z.string(),
  interval_start: z.number().int(),
  interval_end: z.number().int(),
  /** Events counted in the interval when it closed. */
  total_events: z.number().int().min(0),
  idempotency_key: z.string().min(1).max(200),
  created_at: z.number(),
  attempts: z.number().int().min(0),
  next_attempt_at: z.number(),
  last_error: z.string().nullable(),
});
export type OutboxRecord = z.infer<typeof OutboxRecordSchema>;

/** A record as read, with what is needed to change it safely. */
export interface OutboxEntry {
  record: OutboxRecord;
  versionstamp: string;
}

/** What {@linkcode Outbox.close} did. */
export type CloseOutcome = "closed" | "empty" | "already_closed" | "conflict";

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  kv: Deno.Kv;
  edgeId: string;
  clock: Clock;
  intervalMs: number;
  /** How long closed-interval marks are kept (late writes to them move on to a later one). */
  closedMarkMs?: number;
}

const DELETE_BATCH = 500;

/** Open intervals, the outbox and the clean-up of delivered aggregates. */
export class Outbox {
  readonly #kv: Deno.Kv;
  readonly #edge: string;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #closedMarkMs: number;

  constructor(options: OutboxOptions) {
    this.#kv = options.kv;
    this.#edge = options.edgeId;
    this.#clock = options.clock;
    this.#intervalMs = options.intervalMs;
    this.#closedMarkMs = options.closedMarkMs ?? 30 * 86_400_000;
  }

  /** Starts of intervals that have events and are not closed, oldest first. */
  async openIntervals(): Promise<number[]> {
    const out: number[] = [];
    for await (const e of this.#kv.list({ prefix: openIntervalsPrefix(this.#edge) })) {
      if (typeof e.key[3] === "number") out.push(e.key[3]);
    }
    return out;
  }

  /** Closes one interval into the outbox (one atomic commit, retried while writes race it). */
  async close(interval: number): Promise<CloseOutcome> {
    const kv = this.#kv;
    const openKey = openIntervalKey(this.#edge, interval);
    const closedKey = closedIntervalKey(this.#edge, interval);
    const attempt = async (): Promise<CloseOutcome | typeof CONFLICT> => {
      const [open, closed] = await kv.getMany<[Deno.KvU64, unknown]>([openKey, closedKey]);
      if (closed.versionstamp !== null) return "already_closed";
      if (open.versionstamp === null) return "empty";
      const now = this.#clock.now();
      const record: OutboxRecord = {
        v: 1,
        edge_id: this.#edge,
        interval_start: interval,
        interval_end: Math.min(interval + this.#intervalMs, Math.max(now, interval + 1)),
        total_events: Number(open.value.value),
        idempotency_key: `${this.#edge}/${interval}/${ulid(now)}`,
        created_at: now,
        attempts: 0,
        next_attempt_at: now,
        last_error: null,
      };
      const result = await kv.atomic()
        .check(open)
        .check(closed)
        .set(closedKey, { closed_at: now }, { expireIn: this.#closedMarkMs })
        .delete(openKey)
        .set(outboxKey(this.#edge, interval), record)
        .commit();
      return result.ok ? "closed" : CONFLICT;
    };
    try {
      return await casRetry(`analytics interval ${interval}`, attempt);
    } catch (error) {
      if (error instanceof CasConflictError) return "conflict";
      throw error;
    }
  }

  /** Every record, oldest interval first (at most `limit`). */
  async list(limit = 10_000): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for await (const e of this.#kv.list({ prefix: outboxPrefix(this.#edge) }, { limit })) {
      const parsed = OutboxRecordSchema.safeParse(e.value);
      if (!parsed.success) {
        throw new Error(`Unreadable outbox record ${String(e.key[3])}: ${parsed.error.message}`);
      }
      out.push({ record: parsed.data, versionstamp: e.versionstamp });
    }
    return out;
  }

  /** How many records wait (counted up to `max`). */
  async size(max = 100_000): Promise<number> {
    let n = 0;
    for await (const _ of this.#kv.list({ prefix: outboxPrefix(this.#edge) }, { limit: max })) n++;
    return n;
  }

  /** Records a failed delivery; false when another isolate changed the record first. */
  async markFailed(entry: OutboxEntry, error: string, nextAttemptAt: number): Promise<boolean> {
    const key = outboxKey(this.#edge, entry.record.interval_start);
    const record: OutboxRecord = {
      ...entry.record,
      attempts: entry.record.attempts + 1,
      next_attempt_at: nextAttemptAt,
      last_error: error.slice(0, 500),
    };
    const result = await this.#kv.atomic()
      .check({ key, versionstamp: entry.versionstamp })
      .set(key, record)
      .commit();
    return result.ok;
  }

  /** Removes a delivered record and queues its aggregate for deletion; false if already gone. */
  async complete(entry: OutboxEntry): Promise<boolean> {
    const interval = entry.record.interval_start;
    const key = outboxKey(this.#edge, interval);
    const result = await this.#kv.atomic()
      .check({ key, versionstamp: entry.versionstamp })
      .delete(key)
      .set(garbageKey(this.#edge, interval), { delivered_at: this.#clock.now() })
      .commit();
    return result.ok;
  }

  /** Deletes delivered aggregates, at most `maxKeys` keys per call; returns how many. */
  async collectGarbage(maxKeys = 5000): Promise<number> {
    const kv = this.#kv;
    let deleted = 0;
    for await (const marker of kv.list({ prefix: garbagePrefix(this.#edge) })) {
      const interval = marker.key[3] as number;
      while (deleted < maxKeys) {
        const keys: Deno.KvKey[] = [];
        const prefix = aggregatePrefix(this.#edge, interval);
        for await (const e of kv.list({ prefix }, { limit: DELETE_BATCH })) keys.push(e.key);
        if (keys.length === 0) {
          await kv.delete(marker.key);
          break;
        }
        const op = kv.atomic();
        for (const key of keys) op.delete(key);
        const result = await op.commit();
        if (!result.ok) throw new Error(`Could not delete the aggregate of interval ${interval}`);
        deleted += keys.length;
      }
      if (deleted >= maxKeys) break;
    }
    return deleted;
  }
}

/**
 * The analytics edge's KV store: each accepted batch is ONE atomic commit that stores the raw
 * events (by user, then ULID time, with `expireIn`), adds to the open interval's aggregates and
 * to the per-minute local counts with `sum`, and checks that the interval is still open. The
 * read side answers "this user's recent events" and "counts by type over the last N minutes",
 * skipping anything past its retention even if KV has not yet removed it.
 */

import { ulid } from "../../platform/ulid.ts";
import { z } from "zod";
import type { Clock } from "../../core/clock.ts";
import { casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import type { AnalyticsEvent, JsonValue } from "./event_schema.ts";
import { intervalStart, minuteStart, ulidLowerBound } from "./interval.ts";
import {
  closedIntervalKey,
  eventKey,
  ingestKey,
  minuteCountKey,
  minuteCountsPrefix,
  openIntervalKey,
  typeCountKey,
  userCountKey,
  userEventsPrefix,
} from "./keys.ts";

/** What is stored per event. */
export interface StoredEvent {
  event_type: string;
  timestamp: number;
  properties?: Record<string, JsonValue>;
  received_at: number;
  expires_at: number;
}

/** One event as returned by {@linkcode EventStore.userEvents}. */
export interface EventView {
  id: string;
  event_type: string;
  timestamp: string;
  received_at: string;
  properties?: Record<string, JsonValue>;
}

/** Options for {@linkcode EventStore}. */
export interface EventStoreOptions {
  kv: Deno.Kv;
  edgeId: string;
  clock: Clock;
  intervalMs: number;
  retentionMs: number;
  /** Listing bound of `counts()`, to keep one request's work finite. */
  maxCountEntries?: number;
}

/** Limits of one merged commit, under KV's 1000 mutations and ~800 KiB. */
const MAX_MUTATIONS = 1000;
const MAX_COMMIT_BYTES = 600 * 1024;

/** How long an `Idempotency-Key` is remembered (a client's retries come within minutes). */
const INGEST_KEY_TTL_MS = 24 * 3600 * 1000;

/** A batch's claim on an idempotency key, stored with it. */
export interface IngestClaim {
  key: string;
  /** Identifies the request body: the same key with another body is refused. */
  fingerprint: string;
  accepted: number;
}

/** What is stored at an ingest key (validated on read: written by any version). */
const IngestRecordSchema = z.object({
  v: z.literal(1),
  fingerprint: z.string().max(128),
  accepted: z.number().int().min(0),
  at: z.number(),
});
export type IngestRecord = z.infer<typeof IngestRecordSchema>;

/** Thrown when an ingest key holds something this version cannot read. */
export class UnreadableIngestKeyError extends Error {}

/** The result of a commit: stored now, or the earlier batch under the same key. */
type Committed = { interval: number; replay: null } | { interval: null; replay: IngestRecord };

interface PendingWrite {
  events: readonly AnalyticsEvent[];
  claim: IngestClaim | null;
  resolve: (result: Committed) => void;
  reject: (error: unknown) => void;
}

/** The aggregate keys an event sums into (for sizing a merged commit). */
function sumKeysOf(e: AnalyticsEvent): string[] {
  return [
    `t\u0000${e.event_type}`,
    `u\u0000${e.event_type}\u0000${e.user_id}`,
    `m\u0000${minuteStart(e.timestamp)}\u0000${e.event_type}`,
  ];
}
const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const CursorSchema = z.object({
  s: z.number().int().min(0),
  b: z.string().regex(ULID_PATTERN),
});

/** A cursor the client sent that cannot be decoded. */
export class InvalidCursorError extends Error {
  constructor() {
    super("Invalid cursor");
    this.name = "InvalidCursorError";
  }
}

function encodeCursor(sinceMs: number, before: string): string {
  return btoa(JSON.stringify({ s: sinceMs, b: before })).replaceAll("+", "-").replaceAll(
    "/",
    "_",
  ).replace(/=+$/, "");
}

function decodeCursor(cursor: string): { s: number; b: string } {
  try {
    const json = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    return CursorSchema.parse(JSON.parse(json));
  } catch {
    throw new InvalidCursorError();
  }
}

/** Events and aggregates of one edge in KV. */
export class EventStore {
  readonly #o: Required<EventStoreOptions>;
  readonly #queue: PendingWrite[] = [];
  #writing = false;

  constructor(options: EventStoreOptions) {
    this.#o = { maxCountEntries: 100_000, ...options };
  }

  /**
   * Stores `events` and counts them in the open interval, in one commit; returns the interval.
   * Batches that arrive while a commit is in flight are merged into the next commit (within
   * KV's limits), which keeps each batch all-or-nothing and cuts commits under load.
   */
  async record(events: readonly AnalyticsEvent[]): Promise<number> {
    const done = await this.#enqueue(events, null);
    return done.interval!;
  }

  /**
   * Like `record`, once per idempotency key: the key is written in the batch's commit, and a
   * batch whose key is already there is not stored again; its earlier record is returned instead
   * (null when stored now). Such a batch commits alone.
   */
  async recordOnce(
    events: readonly AnalyticsEvent[],
    claim: IngestClaim,
  ): Promise<IngestRecord | null> {
    return (await this.#enqueue(events, claim)).replay;
  }

  #enqueue(events: readonly AnalyticsEvent[], claim: IngestClaim | null): Promise<Committed> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ events, claim, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const group = this.#takeGroup();
        try {
          const done = await this.#commit(group.flatMap((w) => w.events), group[0].claim);
          for (const w of group) w.resolve(done);
        } catch (error) {
          for (const w of group) w.reject(error);
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  /** The queued batches that fit one commit together (at least the first). */
  #takeGroup(): PendingWrite[] {
    const sums = new Set<string>();
    let mutations = 2;
    let bytes = 0;
    let taken = 0;
    for (const w of this.#queue) {
      // A claimed batch commits alone: its key check must not fail anyone else's batch.
      if (w.claim !== null && taken > 0) break;
      const added = new Set<string>();
      let size = 0;
      for (const e of w.events) {
        for (const k of sumKeysOf(e)) if (!sums.has(k)) added.add(k);
        size += 200 + (e.properties === undefined ? 0 : JSON.stringify(e.properties).length);
      }
      const nextMutations = mutations + w.events.length + added.size;
      if (taken > 0 && (nextMutations > MAX_MUTATIONS || bytes + size > MAX_COMMIT_BYTES)) break;
      for (const k of added) sums.add(k);
      mutations = nextMutations;
      bytes += size;
      taken++;
      if (w.claim !== null) break;
    }
    return this.#queue.splice(0, taken);
  }

  async #commit(events: readonly AnalyticsEvent[], claim: IngestClaim | null): Promise<Committed> {
    const { kv, edgeId: edge, clock, intervalMs, retentionMs } = this.#o;
    const now = clock.now();
    const ids = events.map((e) => ulid(e.timestamp));
    const types = new Map<string, number>();
    const users = new Map<string, [string, string, number]>();
    const minutes = new Map<string, [number, string, number]>();
    for (const e of events) {
      types.set(e.event_type, (types.get(e.event_type) ?? 0) + 1);
      const u = `${e.event_type}\u0000${e.user_id}`;
      users.set(u, [e.event_type, e.user_id, (users.get(u)?.[2] ?? 0) + 1]);
      const m = minuteStart(e.timestamp);
      const mk = `${m}\u0000${e.event_type}`;
      minutes.set(mk, [m, e.event_type, (minutes.get(mk)?.[2] ?? 0) + 1]);
    }
    let interval = intervalStart(now, intervalMs);
    // A lost race means the interval was closed meanwhile (or the claim was taken): the next
    // attempt writes into the following interval (or reports the earlier batch).
    return await casRetry(`analytics of ${events.length} events`, async (): Promise<
      Committed | typeof CONFLICT
    > => {
      const op = kv.atomic().check({ key: closedIntervalKey(edge, interval), versionstamp: null });
      if (claim !== null) {
        const record: IngestRecord = {
          v: 1,
          fingerprint: claim.fingerprint,
          accepted: claim.accepted,
          at: now,
        };
        op.check({ key: ingestKey(edge, claim.key), versionstamp: null });
        op.set(ingestKey(edge, claim.key), record, { expireIn: INGEST_KEY_TTL_MS });
      }
      events.forEach((e, i) => {
        const value: StoredEvent = {
          event_type: e.event_type,
          timestamp: e.timestamp,
          received_at: now,
          expires_at: e.timestamp + retentionMs,
        };
        if (e.properties !== undefined) value.properties = e.properties;
        op.set(eventKey(edge, e.user_id, ids[i]), value, {
          expireIn: Math.max(1000, value.expires_at - now),
        });
      });
      for (const [type, n] of types) op.sum(typeCountKey(edge, interval, type), BigInt(n));
      for (const [type, user, n] of users.values()) {
        op.sum(userCountKey(edge, interval, type, user), BigInt(n));
      }
      // Per-minute counts carry no expiry option on `sum`; they are swept by their age on read
      // and by the garbage step of the flush job.
      for (const [m, type, n] of minutes.values()) {
        op.sum(minuteCountKey(edge, m, type), BigInt(n));
      }
      op.sum(openIntervalKey(edge, interval), BigInt(events.length));
      const result = await op.commit();
      if (result.ok) return { interval, replay: null };
      if (claim !== null) {
        const earlier = await kv.get(ingestKey(edge, claim.key));
        if (earlier.versionstamp !== null) {
          const parsed = IngestRecordSchema.safeParse(earlier.value);
          if (!parsed.success) throw new UnreadableIngestKeyError(claim.key);
          return { interval: null, replay: parsed.data };
        }
      }
      interval += intervalMs;
      return CONFLICT;
    });
  }

  /**
   * One user's events from the last `minutes`, newest first, `limit` per page. Pass the
   * returned `next_cursor` as `cursor` for the next page (it keeps the page's time window).
   */
  async userEvents(
    userId: string,
    options: { minutes: number; limit: number; cursor?: string },
  ): Promise<{ events: EventView[]; next_cursor: string | null; since: string }> {
    const { kv, edgeId: edge, clock } = this.#o;
    const now = clock.now();
    const from = options.cursor ? decodeCursor(options.cursor) : null;
    const since = from?.s ?? now - options.minutes * 60_000;
    const prefix = userEventsPrefix(edge, userId);
    const end = from ? [...prefix, from.b] : [...prefix, "\u{10FFFF}"];
    const iter = kv.list<StoredEvent>(
      { start: [...prefix, ulidLowerBound(since)], end },
      { reverse: true, limit: options.limit },
    );
    const events: EventView[] = [];
    let last: string | null = null;
    let seen = 0;
    for await (const entry of iter) {
      seen++;
      const id = entry.key[entry.key.length - 1] as string;
      last = id;
      const v = entry.value;
      if (!v || typeof v.expires_at !== "number" || v.expires_at <= now) continue;
      if (v.timestamp < since) continue;
      const view: EventView = {
        id,
        event_type: v.event_type,
        timestamp: new Date(v.timestamp).toISOString(),
        received_at: new Date(v.received_at).toISOString(),
      };
      if (v.properties !== undefined) view.properties = v.properties;
      events.push(view);
    }
    const next = seen === options.limit && last !== null ? encodeCursor(since, last) : null;
    return { events, next_cursor: next, since: new Date(since).toISOString() };
  }

  /** Event counts by type in the current minute and the `minutes - 1` before it. */
  async counts(minutes: number): Promise<
    { by_event_type: Record<string, number>; total_events: number; truncated: boolean }
  > {
    const { kv, edgeId: edge, clock, retentionMs, maxCountEntries } = this.#o;
    const now = clock.now();
    const first = minuteStart(now) - (minutes - 1) * 60_000;
    const prefix = minuteCountsPrefix(edge);
    const iter = kv.list<Deno.KvU64>(
      { start: [...prefix, first], end: [...prefix, Number.MAX_SAFE_INTEGER] },
      { limit: maxCountEntries },
    );
    const byType: Record<string, number> = {};
    let total = 0;
    let seen = 0;
    for await (const entry of iter) {
      seen++;
      const m = entry.key[3] as number;
      if (m + 60_000 + retentionMs <= now || !(entry.value instanceof Deno.KvU64)) continue;
      const type = entry.key[4] as string;
      const n = Number(entry.value.value);
      byType[type] = (byType[type] ?? 0) + n;
      total += n;
    }
    return { by_event_type: byType, total_events: total, truncated: seen >= maxCountEntries };
  }

  /** Deletes per-minute counts older than retention (at most `limit` keys); returns how many. */
  async sweepMinuteCounts(limit = 500): Promise<number> {
    const { kv, edgeId: edge, clock, retentionMs } = this.#o;
    const prefix = minuteCountsPrefix(edge);
    const cutoff = minuteStart(clock.now() - retentionMs) - 60_000;
    const keys: Deno.KvKey[] = [];
    for await (const entry of kv.list({ start: prefix, end: [...prefix, cutoff] }, { limit })) {
      keys.push(entry.key);
    }
    for (let i = 0; i < keys.length; i += 500) {
      const op = kv.atomic();
      for (const key of keys.slice(i, i + 500)) op.delete(key);
      await op.commit();
    }
    return keys.length;
  }
}

/**
 * The central collector: applies each edge summary exactly once and answers totals. The grand
 * totals, per-edge and per-interval totals and the idempotency key are ONE atomic commit that
 * checks the key is new. Per-type and per-user counts can exceed one commit's 1000 mutations,
 * so they go first in parts, each committed together with its own part marker; a retry after a
 * crash skips the parts already applied, and a duplicate delivery finds the key and stops.
 */

import type { Clock } from "../../../core/clock.ts";
import type { Summary } from "../summary.ts";
import {
  appliedKey,
  centralPrefix,
  edgeTotalKey,
  intervalKey,
  partKey,
  summariesKey,
  totalKey,
  typeTotalKey,
  userTotalKey,
} from "./keys.ts";

/** An idempotency key: 1-200 of `A-Za-z0-9._:/-`. */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:\/-]{1,200}$/;

const PART_SIZE = 400;

/** What applying a summary did. */
export interface ApplyResult {
  status: "applied" | "duplicate";
  total_events: number;
}

/** Totals for one interval start. */
export interface IntervalStats {
  start: string;
  start_ms: number;
  total_events: number;
  by_event_type: Record<string, number>;
  by_edge: Record<string, number>;
}

/** The collector's answer to `GET /_central/stats`. */
export interface CentralStats {
  total_events: number;
  summaries: number;
  by_event_type: Record<string, number>;
  by_edge: Record<string, number>;
  intervals: IntervalStats[];
}

function n(value: unknown): number {
  return value instanceof Deno.KvU64 ? Number(value.value) : 0;
}

/** Applies summaries to central totals kept in KV. */
export class CentralCollector {
  readonly #kv: Deno.Kv;
  readonly #clock: Clock;
  readonly #keyTtlMs: number;

  constructor(options: { kv: Deno.Kv; clock: Clock; idempotencyDays: number }) {
    this.#kv = options.kv;
    this.#clock = options.clock;
    this.#keyTtlMs = options.idempotencyDays * 86_400_000;
  }

  /** Applies `summary` once per `key`; a key seen before changes nothing. */
  async apply(summary: Summary, key: string): Promise<ApplyResult> {
    const kv = this.#kv;
    const done = await kv.get(appliedKey(key));
    if (done.versionstamp !== null) return { status: "duplicate", total_events: 0 };
    const start = summary.interval.start;
    const sums: Array<[Deno.KvKey, number]> = [];
    for (const [type, count] of Object.entries(summary.counts.by_event_type)) {
      sums.push([typeTotalKey(type), count], [intervalKey(start, "type", type), count]);
    }
    for (const [user, counts] of Object.entries(summary.counts.by_user)) {
      for (const [type, count] of Object.entries(counts)) {
        sums.push([userTotalKey(user, type), count]);
      }
    }
    const ttl = { expireIn: this.#keyTtlMs };
    for (let part = 0; part * PART_SIZE < sums.length; part++) {
      const marker = partKey(key, part);
      const op = kv.atomic().check({ key: marker, versionstamp: null }).set(marker, true, ttl);
      for (const [k, c] of sums.slice(part * PART_SIZE, (part + 1) * PART_SIZE)) {
        op.sum(k, BigInt(c));
      }
      await op.commit(); // not ok: this part was applied by an earlier, interrupted delivery
    }
    const total = BigInt(summary.total_events);
    const result = await kv.atomic()
      .check({ key: appliedKey(key), versionstamp: null })
      .set(appliedKey(key), {
        edge_id: summary.edge_id,
        interval: summary.interval,
        total_events: summary.total_events,
        applied_at: this.#clock.now(),
      }, ttl)
      .sum(totalKey(), total)
      .sum(summariesKey(), 1n)
      .sum(edgeTotalKey(summary.edge_id), total)
      .sum(intervalKey(start, "total"), total)
      .sum(intervalKey(start, "edge", summary.edge_id), total)
      .commit();
    return result.ok
      ? { status: "applied", total_events: summary.total_events }
      : { status: "duplicate", total_events: 0 };
  }

  /** Totals, and the newest `intervals` interval starts with theirs. */
  async stats(intervals = 20): Promise<CentralStats> {
    const kv = this.#kv;
    const [total, summaries] = await kv.getMany([totalKey(), summariesKey()]);
    const byType: Record<string, number> = {};
    for await (const e of kv.list({ prefix: centralPrefix("type") }, { limit: 10_000 })) {
      byType[e.key[2] as string] = n(e.value);
    }
    const byEdge: Record<string, number> = {};
    for await (const e of kv.list({ prefix: centralPrefix("edge") }, { limit: 10_000 })) {
      byEdge[e.key[2] as string] = n(e.value);
    }
    const out: IntervalStats[] = [];
    if (intervals > 0) {
      const iter = kv.list({ prefix: centralPrefix("interval") }, { reverse: true, limit: 50_000 });
      for await (const e of iter) {
        const start = e.key[2] as number;
        let cur = out[out.length - 1];
        if (!cur || cur.start_ms !== start) {
          if (out.length === intervals) break;
          cur = {
            start: new Date(start).toISOString(),
            start_ms: start,
            total_events: 0,
            by_event_type: {},
            by_edge: {},
          };
          out.push(cur);
        }
        const kind = e.key[3];
        if (kind === "total") cur.total_events = n(e.value);
        else if (kind === "type") cur.by_event_type[e.key[4] as string] = n(e.value);
        else if (kind === "edge") cur.by_edge[e.key[4] as string] = n(e.value);
      }
    }
    return {
      total_events: n(total.value),
      summaries: n(summaries.value),
      by_event_type: byType,
      by_edge: byEdge,
      intervals: out,
    };
  }

  /** One user's totals by event type. */
  async userStats(userId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for await (
      const e of this.#kv.list({ prefix: centralPrefix("user", userId) }, { limit: 10_000 })
    ) {
      out[e.key[3] as string] = n(e.value);
    }
    return out;
  }
}

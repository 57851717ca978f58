/**
 * Delivers outbox records to the collector, oldest first: builds the interval's summary, POSTs it
 * gzip-compressed with its idempotency key, and deletes the record only on a 2xx. A failure is
 * written into the record (attempts, next attempt after exponential back-off with jitter), so
 * the schedule survives restarts; newer records wait while an older one fails.
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { backoffMs } from "./interval.ts";
import type { Outbox, OutboxEntry } from "./outbox.ts";
import { buildSummary, gzipJson } from "./summary.ts";

/** Options for {@linkcode SummarySender}. */
export interface SenderOptions {
  kv: Deno.Kv;
  outbox: Outbox;
  clock: Clock;
  log: Logger;
  /** The collector's base URL, resolved per send (it may be learnt after start). */
  centralUrl: () => string;
  /** The collector's token; null (CENTRAL_TOKEN unset) keeps every record in the outbox. */
  token: string | null;
  fetch: typeof fetch;
  timeoutMs: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  random?: () => number;
  /** Called after each attempt with its outcome and the compressed size. */
  onAttempt?: (outcome: SendOutcome, bytes: number) => void;
}

/** How one delivery attempt ended. */
export type SendOutcome = "delivered" | "http_error" | "network_error" | "timeout";

/** What one {@linkcode SummarySender.sendDue} pass did. */
export interface SendReport {
  delivered: number;
  failed: number;
  /** Records still waiting after the pass. */
  pending: number;
}

/** Sends outbox records to the collector. */
export class SummarySender {
  readonly #o: SenderOptions;

  constructor(options: SenderOptions) {
    this.#o = options;
  }

  /**
   * Sends every due record, oldest first, stopping at the first failure. `ignoreBackoff`
   * (shutdown) tries the oldest at once; `deadline` (epoch ms of the clock) bounds the pass.
   */
  async sendDue(
    options: { signal?: AbortSignal; deadline?: number; ignoreBackoff?: boolean } = {},
  ): Promise<SendReport> {
    const entries = await this.#o.outbox.list();
    if (this.#o.token === null) {
      // Fail closed, lose nothing: records wait in the outbox until a token is configured.
      return { delivered: 0, failed: 0, pending: entries.length };
    }
    const report: SendReport = { delivered: 0, failed: 0, pending: entries.length };
    for (const entry of entries) {
      if (options.signal?.aborted) break;
      const now = this.#o.clock.now();
      if (!options.ignoreBackoff && entry.record.next_attempt_at > now) break;
      const budget = options.deadline === undefined
        ? this.#o.timeoutMs
        : Math.min(this.#o.timeoutMs, options.deadline - now);
      if (budget <= 0) break;
      const ok = await this.#sendOne(entry, budget, options.signal);
      if (!ok) {
        report.failed++;
        break;
      }
      report.delivered++;
      report.pending--;
    }
    return report;
  }

  async #sendOne(entry: OutboxEntry, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const { record } = entry;
    const o = this.#o;
    const summary = await buildSummary(o.kv, record.edge_id, {
      start: record.interval_start,
      end: record.interval_end,
    });
    if (summary.total_events !== record.total_events) {
      o.log.error("analytics aggregate does not match its interval count", {
        interval: record.interval_start,
        counted: record.total_events,
        aggregate: summary.total_events,
      });
    }
    const body = await gzipJson(summary);
    const url = `${o.centralUrl()}/_central/summary`;
    const timeout = AbortSignal.timeout(timeoutMs);
    let outcome: SendOutcome;
    let detail: string;
    try {
      const res = await o.fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-encoding": "gzip",
          "idempotency-key": record.idempotency_key,
          authorization: `Bearer ${o.token}`,
        },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await res.text().catch(() => "");
      if (res.status >= 200 && res.status < 300) {
        o.onAttempt?.("delivered", body.byteLength);
        const removed = await o.outbox.complete(entry);
        o.log.info("analytics summary delivered", {
          interval: record.interval_start,
          events: summary.total_events,
          bytes: body.byteLength,
          attempts: record.attempts + 1,
          ...(removed ? {} : { note: "record already removed by another isolate" }),
        });
        return true;
      }
      outcome = "http_error";
      detail = `HTTP ${res.status}: ${text.slice(0, 200)}`;
    } catch (error) {
      outcome = timeout.aborted ? "timeout" : "network_error";
      detail = outcome === "timeout"
        ? `No answer within ${timeoutMs} ms`
        : (error as Error).message ?? String(error);
    }
    o.onAttempt?.(outcome, body.byteLength);
    const delay = backoffMs(record.attempts + 1, {
      baseMs: o.baseBackoffMs,
      maxMs: o.maxBackoffMs,
      random: o.random,
    });
    const nextAt = o.clock.now() + delay;
    await o.outbox.markFailed(entry, detail, nextAt);
    o.log.warn("analytics summary not delivered; will retry", {
      interval: record.interval_start,
      attempts: record.attempts + 1,
      outcome,
      error: detail,
      retry_in_ms: delay,
    });
    return false;
  }
}

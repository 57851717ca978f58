/**
 * The analytics edge: ingest into the local store, automatic tracking, and the flush that
 * closes finished intervals into the outbox and sends them to the collector. Metrics for the
 * bandwidth report (raw event bytes in, summary bytes out) are recorded here.
 */

import type { Clock } from "../../core/clock.ts";
import type { Jobs } from "../../core/jobs.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import type { AnalyticsConfig } from "./config.ts";
import type { AnalyticsEvent, EventLimits } from "./event_schema.ts";
import { Outbox } from "./outbox.ts";
import { type SendReport, SummarySender } from "./sender.ts";
import { EventStore, type IngestClaim, type IngestRecord } from "./store.ts";
import { AutoTracker } from "./tracker.ts";

/** Intervals close this long after their end, so requests in flight at the boundary land. */
const CLOSE_GRACE_MS = 1000;
/** The background job's name (tests run it with `jobs.runNow`). */
const FLUSH_JOB = "analytics-flush";

/** Options for {@linkcode AnalyticsEdge}. */
export interface AnalyticsEdgeOptions {
  config: AnalyticsConfig;
  region: string;
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  jobs: Jobs;
  /** How summaries travel (real fetch, or one that also serves `internal://self`). */
  fetch: typeof fetch;
  /** The collector's token; null when CENTRAL_TOKEN is needed but unset (nothing is sent). */
  token: string | null;
  /** The collector's base URL; read on every send. */
  centralUrl: () => string;
  random?: () => number;
}

/** The bandwidth report: raw event bytes in, summary bytes out. */
export interface BandwidthReport {
  events_received: number;
  received_bytes: number;
  summaries_delivered: number;
  sent_bytes: number;
  /** received / sent, null before anything was sent. */
  reduction: number | null;
}

/** What an operator's flush did. */
export interface FlushReport extends SendReport {
  /** Intervals closed into the outbox, the running one included. */
  closed: number;
}

/** One edge's analytics. */
export class AnalyticsEdge {
  readonly edgeId: string;
  readonly store: EventStore;
  readonly outbox: Outbox;
  readonly sender: SummarySender;
  readonly tracker: AutoTracker;
  readonly limits: EventLimits;
  readonly config: AnalyticsConfig;
  readonly clock: Clock;
  readonly #o: AnalyticsEdgeOptions;
  readonly #intervalMs: number;
  readonly #m;
  #flushing: Promise<FlushReport> | null = null;

  constructor(options: AnalyticsEdgeOptions) {
    const { config: cfg, kv, clock, metrics } = options;
    this.#o = options;
    this.config = cfg;
    this.clock = clock;
    this.edgeId = `${options.region}/${cfg.nodeId}`;
    this.#intervalMs = cfg.flushSeconds * 1000;
    const retentionMs = cfg.retentionHours * 3_600_000;
    this.limits = {
      maxBatchEvents: cfg.maxBatchEvents,
      maxFutureMs: cfg.maxFutureSeconds * 1000,
      retentionMs,
      properties: cfg.properties,
    };
    this.#m = {
      accepted: metrics.counter(
        "outpost_analytics_events_accepted_total",
        "Events stored, by source",
      ),
      rejected: metrics.counter(
        "outpost_analytics_events_rejected_total",
        "Events refused by validation",
      ),
      repeated: metrics.counter(
        "outpost_analytics_batches_repeated_total",
        "Batches under an Idempotency-Key already used, not stored again: replayed (same body) " +
          "or conflict (another body, 422)",
      ),
      receivedBytes: metrics.counter(
        "outpost_analytics_received_bytes_total",
        "Raw event bytes received (POST /events bodies; tracked events as JSON), by source",
      ),
      sentBytes: metrics.counter(
        "outpost_analytics_summary_bytes_sent_total",
        "Compressed summary bytes sent to the collector, every attempt",
      ),
      summaries: metrics.counter(
        "outpost_analytics_summaries_total",
        "Summary delivery attempts, by outcome",
      ),
      closed: metrics.counter("outpost_analytics_intervals_closed_total", "Intervals closed"),
      deferred: metrics.counter(
        "outpost_analytics_close_deferred_total",
        "Interval closes put off because the outbox was full",
      ),
      tracking: metrics.counter(
        "outpost_analytics_tracking_errors_total",
        "Tracked events not written, by kind (write_failed, dropped)",
      ),
      outbox: metrics.gauge(
        "outpost_analytics_outbox_records",
        "Closed intervals not yet delivered",
      ),
      outboxFull: metrics.gauge(
        "outpost_analytics_outbox_full",
        "1 while the outbox is at its bound",
      ),
      oldest: metrics.gauge(
        "outpost_analytics_outbox_oldest_age_seconds",
        "Age of the oldest undelivered interval",
      ),
      open: metrics.gauge(
        "outpost_analytics_open_intervals",
        "Intervals with events not yet closed",
      ),
    };
    this.store = new EventStore({
      kv,
      edgeId: this.edgeId,
      clock,
      intervalMs: this.#intervalMs,
      retentionMs,
    });
    this.outbox = new Outbox({ kv, edgeId: this.edgeId, clock, intervalMs: this.#intervalMs });
    this.sender = new SummarySender({
      kv,
      outbox: this.outbox,
      clock,
      log: options.log,
      centralUrl: options.centralUrl,
      token: options.token,
      fetch: options.fetch,
      timeoutMs: cfg.send.timeoutMs,
      baseBackoffMs: cfg.send.baseBackoffMs,
      maxBackoffMs: cfg.send.maxBackoffMs,
      random: options.random,
      onAttempt: (outcome, bytes) => {
        this.#m.summaries.inc({ outcome });
        this.#m.sentBytes.inc(undefined, bytes);
      },
    });
    this.tracker = new AutoTracker({
      record: (events) => this.record(events, "auto"),
      log: options.log,
      batchSize: cfg.maxBatchEvents,
      onError: (kind, count) => this.#m.tracking.inc({ kind }, count),
    });
    if (cfg.enabled && cfg.scheduler === "timer") {
      options.jobs.add({
        name: FLUSH_JOB,
        intervalMs: this.#intervalMs,
        run: async (signal) => {
          await this.tick(signal);
        },
        maxBackoffMs: Math.max(this.#intervalMs * 10, 60_000),
      });
    }
  }

  /** Stores valid events (one commit) and counts them. */
  async record(events: AnalyticsEvent[], source: "api" | "auto"): Promise<void> {
    await this.store.record(events);
    this.#m.accepted.inc({ source }, events.length);
  }

  /**
   * Records a batch sent with an `Idempotency-Key` once: the earlier record when that key was
   * already used (nothing stored or counted again), else null.
   */
  async recordOnce(events: AnalyticsEvent[], claim: IngestClaim): Promise<IngestRecord | null> {
    const earlier = await this.store.recordOnce(events, claim);
    if (earlier === null) this.#m.accepted.inc({ source: "api" }, events.length);
    else {
      const same = earlier.fingerprint === claim.fingerprint;
      this.#m.repeated.inc({ outcome: same ? "replayed" : "conflict" });
    }
    return earlier;
  }

  /** Counts raw bytes received and events refused (called by the route for every request). */
  countReceived(rawBytes: number, rejected: number): void {
    if (rejected > 0) this.#m.rejected.inc(undefined, rejected);
    this.#m.receivedBytes.inc({ source: "api" }, rawBytes);
  }

  /** Counts the raw size of a tracked event. */
  countTracked(bytes: number): void {
    this.#m.receivedBytes.inc({ source: "auto" }, bytes);
  }

  /** The bandwidth report from this process's metrics. */
  bandwidth(): BandwidthReport {
    const m = this.#m;
    const received = m.receivedBytes.get({ source: "api" }) +
      m.receivedBytes.get({ source: "auto" });
    const sent = m.sentBytes.get();
    return {
      events_received: m.accepted.get({ source: "api" }) + m.accepted.get({ source: "auto" }),
      received_bytes: received,
      summaries_delivered: m.summaries.get({ outcome: "delivered" }),
      sent_bytes: sent,
      reduction: sent > 0 ? Math.round((received / sent) * 10) / 10 : null,
    };
  }

  /**
   * Closes finished intervals into the outbox, oldest first, while the outbox has room
   * (`includeCurrent` also closes the interval still running, for shutdown).
   */
  async closeDue(includeCurrent = false): Promise<number[]> {
    const { clock, log } = this.#o;
    const now = clock.now();
    const open = await this.outbox.openIntervals();
    const max = this.config.outbox.maxRecords;
    let size = await this.outbox.size(max + 1);
    const closed: number[] = [];
    for (const interval of open) {
      if (!includeCurrent && interval + this.#intervalMs + CLOSE_GRACE_MS > now) break;
      if (size >= max) {
        this.#m.deferred.inc();
        log.warn("analytics outbox full; intervals stay open until the collector catches up", {
          outbox_records: size,
          max_records: max,
          open_intervals: open.length - closed.length,
        });
        break;
      }
      const outcome = await this.outbox.close(interval);
      if (outcome === "closed") {
        closed.push(interval);
        size++;
        this.#m.closed.inc();
      } else if (outcome === "conflict") {
        log.warn("analytics interval kept changing while closing; will retry", { interval });
        break;
      }
    }
    this.#m.outboxFull.set(size >= max ? 1 : 0);
    this.#m.open.set(open.length - closed.length);
    return closed;
  }

  /** One flush: close due intervals, send due records, clean up; throws only on KV failures. */
  async tick(signal?: AbortSignal): Promise<SendReport> {
    await this.tracker.flush();
    await this.closeDue(false);
    const report = await this.sender.sendDue({ signal });
    await this.outbox.collectGarbage();
    await this.store.sweepMinuteCounts();
    await this.updateGauges();
    return report;
  }

  /**
   * An operator's flush: closes every open interval, the running one included, and sends the
   * outbox now, past any back-off. What cannot be delivered stays in the outbox for the job.
   * Calls made while one runs share its result.
   */
  flushNow(): Promise<FlushReport> {
    this.#flushing ??= (async () => {
      try {
        await this.tracker.flush();
        const closed = await this.closeDue(true);
        const sent = await this.sender.sendDue({ ignoreBackoff: true });
        await this.updateGauges();
        return { closed: closed.length, ...sent };
      } finally {
        this.#flushing = null;
      }
    })();
    return this.#flushing;
  }

  /** Refreshes the outbox gauges. */
  async updateGauges(): Promise<void> {
    const entries = await this.outbox.list(this.config.outbox.maxRecords + 1);
    this.#m.outbox.set(entries.length);
    const oldest = entries[0]?.record.created_at;
    this.#m.oldest.set(
      oldest === undefined ? 0 : Math.max(0, (this.#o.clock.now() - oldest) / 1000),
    );
  }

  /**
   * On shutdown: write tracked events, close the running interval and send what can be sent
   * within `timeoutMs` of real time. Whatever is left stays in the outbox for the next start.
   * With the `cron` scheduler (Deno Deploy) other isolates still write to the running interval
   * and only the cron closes intervals: shutdown then only writes tracked events.
   */
  async shutdown(timeoutMs = this.config.shutdownFlushMs): Promise<SendReport | null> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error("shutdown flush timed out")), timeoutMs);
    try {
      await this.tracker.close();
      if (this.config.scheduler === "cron") return null;
      await this.closeDue(true);
      if (abort.signal.aborted) return null;
      return await this.sender.sendDue({ signal: abort.signal, ignoreBackoff: true });
    } catch (error) {
      this.#o.log.error("analytics shutdown flush failed", { error });
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops tracking and closes the running interval into the outbox (nothing is sent); with the
   * `cron` scheduler the interval stays open for the other isolates and the next cron run.
   */
  async close(): Promise<void> {
    await this.tracker.close();
    if (this.config.scheduler === "cron") return;
    await this.closeDue(true).catch((error) =>
      this.#o.log.error("analytics could not close the open interval", { error })
    );
  }
}

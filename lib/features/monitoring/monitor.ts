/**
 * The node's monitoring, wired together: per-request recording and logging, health with
 * transitions and alerts, conditions any stage can raise, a KV write probe, snapshots to KV for
 * global statistics, and the Prometheus text. Built once by `createApp`; background work runs as
 * `edge.jobs`.
 */

import type { EdgeRequestContext } from "../../core/request.ts";
import type { Clock } from "../../core/clock.ts";
import type { EdgeConfig } from "../../core/config.ts";
import type { Jobs } from "../../core/jobs.ts";
import type { Logger } from "../../core/log.ts";
import { HttpError } from "../../platform/http/errors.ts";
import { HealthAlerts } from "./alerts.ts";
import {
  type HealthCondition,
  HealthConditions,
  WARMING_CONDITION,
} from "../../core/conditions.ts";
import { kvProbeKey } from "./keys.ts";
import {
  type HealthThresholds,
  type HealthVerdict,
  judge,
  summarize,
  type WindowSummary,
} from "./health.ts";
import { renderPrometheus } from "./prometheus.ts";
import { CACHE_OUTCOMES, RequestRecorder } from "./recorder.ts";
import type { Counter, Gauge, MetricsRegistry } from "../../core/metrics.ts";
import { pathStart } from "../../platform/http/url_path.ts";
import { ROUTE_GROUPS, routeGroupOf } from "../../platform/http/route_group.ts";
import { CounterSlots } from "./counter_slots.ts";
import { buildSnapshot, EVENT_COUNTER, type NodeSnapshot } from "./snapshot.ts";
import {
  deleteSnapshot,
  type GlobalStats,
  mergeSnapshots,
  readSnapshots,
  writeSnapshot,
} from "./stats.ts";
import { SlidingWindow } from "./window.ts";

/** What the monitor needs from the node. */
export interface MonitorOptions {
  config: EdgeConfig;
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  jobs: Jobs;
  fetch: typeof fetch;
  startedAt: number;
  /** This node's id (default: a random one). */
  nodeId?: string;
  /** The registry health reads conditions from (a fresh one when absent). */
  conditions?: HealthConditions;
}

/** The node's health right now. */
export interface HealthReport extends HealthVerdict {
  summary: WindowSummary;
  thresholds: HealthThresholds;
  monitoring: "on" | "off";
  /** Conditions in force (their reasons are in `reasons` too). */
  conditions: HealthCondition[];
}

/** Time a KV probe write may take before the store counts as not writable. */
const KV_PROBE_TIMEOUT_MS = 5000;

/** The verdict with the conditions in force: degraded by any, unhealthy by an unhealthy one. */
function withConditions(verdict: HealthVerdict, conditions: HealthCondition[]): HealthVerdict {
  if (conditions.length === 0) return verdict;
  const unhealthy = verdict.status === "unhealthy" ||
    conditions.some((c) => c.level === "unhealthy");
  return {
    status: unhealthy ? "unhealthy" : "degraded",
    reasons: [...verdict.reasons, ...conditions.map((c) => c.reason)],
    insufficient_data: verdict.insufficient_data,
  };
}

/** Per-node monitoring. */
export class Monitor {
  #summary: ReturnType<typeof summarize> | null = null;
  readonly #summaryAt = new Float64Array(2);
  /** This node's id in snapshots and alerts (random per process). */
  readonly nodeId: string;
  readonly enabled: boolean;
  /** Conditions that make the node degraded or unhealthy regardless of its traffic. */
  readonly conditions: HealthConditions;
  readonly window: SlidingWindow;
  readonly alerts: HealthAlerts;
  readonly #o: MonitorOptions;
  readonly #recorder: RequestRecorder;
  readonly #logRequests: boolean;
  readonly #requestLog: Logger;
  readonly #thresholds: HealthThresholds;
  readonly #skipped: Counter;
  readonly #up: Gauge;
  readonly #windowGauge: Gauge;
  readonly #events: CounterSlots;
  /** The slot the event counters were last sampled in. */
  #eventsSlot = -1;

  constructor(options: MonitorOptions) {
    const { config, clock, metrics, jobs } = options;
    const m = config.metrics;
    this.#o = options;
    this.nodeId = options.nodeId ?? crypto.randomUUID().slice(0, 8);
    this.enabled = m.enabled;
    this.#logRequests = config.log.requests;
    this.#requestLog = options.log;
    this.conditions = options.conditions ?? new HealthConditions();
    const { maxErrorRate, maxP99Ms, minRequests, latency, countOriginErrors } = m.health;
    this.#thresholds = { maxErrorRate, maxP99Ms, minRequests, latency, countOriginErrors };
    this.window = new SlidingWindow({ windowMs: m.windowMs, slotMs: m.slotMs });
    this.#events = new CounterSlots({ slots: m.windowMs / m.slotMs });
    this.#recorder = new RequestRecorder({
      metrics,
      region: config.region,
      window: this.window,
      now: () => clock.now(),
      windowLatency: m.health.latency,
    });
    this.alerts = new HealthAlerts({
      nodeId: this.nodeId,
      region: config.region,
      thresholds: this.#thresholds,
      webhookUrl: m.alerts.webhookUrl,
      timeoutMs: m.alerts.timeoutMs,
      maxPending: m.alerts.maxPending,
      fetch: options.fetch,
      log: options.log,
      metrics,
    });
    this.#skipped = metrics.counter(
      "outpost_metrics_snapshots_skipped_total",
      "Snapshots in KV left out of global stats, by reason (corrupt, old_format, expired)",
    );
    this.#up = metrics.gauge("outpost_health_up", "1 while this node is healthy, 0 when not");
    this.#windowGauge = metrics.gauge(
      "outpost_window",
      "Sliding-window figures of this node (requests, error_ratio, p50/p95/p99 seconds)",
    );
    jobs.add({
      name: "metrics.snapshot",
      intervalMs: m.snapshotIntervalMs,
      maxBackoffMs: m.snapshotTtlMs,
      run: () => writeSnapshot(options.kv, this.snapshot()),
    });
    jobs.add({
      name: "health.kv-write",
      intervalMs: m.snapshotIntervalMs,
      maxBackoffMs: m.snapshotIntervalMs * 3,
      run: () => this.probeKv(),
    });
    jobs.add({
      name: "metrics.health",
      intervalMs: m.health.checkIntervalMs,
      run: () => Promise.resolve(void this.health()),
    });
    if (m.alerts.webhookUrl) {
      jobs.add({
        name: "metrics.alerts",
        intervalMs: 1000,
        maxBackoffMs: 60_000,
        run: (signal) => this.alerts.deliver(signal),
      });
    }
  }

  /** Records and logs one answered request (called after the response is stamped). */
  finish(req: Request, status: number, ctx: EdgeRequestContext): void {
    if (!this.enabled && !this.#logRequests) return;
    if (this.enabled) {
      // Once per slot: what the event counters gained belongs to the slot that just ended.
      const now = this.#o.clock.now();
      const slot = Math.floor(now / this.window.slotMs);
      if (slot !== this.#eventsSlot) this.#sampleEvents(slot - 1, now);
    }
    const url = req.url;
    const route = routeGroupOf(url, req.method);
    const ms = ctx.elapsedMs ?? performance.now() - ctx.startedAt;
    if (this.enabled) this.#recorder.record(route, status, ctx, ms);
    if (this.#logRequests) this.#logRequest(req, url, route, status, ctx, ms);
  }

  #logRequest(
    req: Request,
    url: string,
    route: number,
    status: number,
    ctx: EdgeRequestContext,
    ms: number,
  ): void {
    const start = pathStart(url);
    const end = url.indexOf("?", start);
    const path = start < 0 ? "/" : url.slice(start, end < 0 ? undefined : end);
    this.#requestLog.info("request", {
      request_id: ctx.requestId,
      method: req.method,
      route: ROUTE_GROUPS[route],
      path: path.length > 200 ? path.slice(0, 200) + "…" : path,
      status,
      latency_ms: Math.round(ms * 1000) / 1000,
      cache: ctx.cacheOutcome ?? CACHE_OUTCOMES[0],
      upstream: ctx.upstream?.region ?? null,
      upstream_ms: ctx.upstream ? Math.round(ctx.upstream.ms * 1000) / 1000 : null,
      ...(ctx.problem ? { problem: ctx.problem } : {}),
    });
  }

  /** Samples the analytics event counters: what they gained since the last sample goes to `into`. */
  #sampleEvents(into: number, now: number): void {
    // Runs on the first request of every slot (the very first included): no sorting, no copies.
    const totals = this.#o.metrics.counterTotals(EVENT_COUNTER);
    this.#events.sample(into, totals);
    this.#eventsSlot = Math.floor(now / this.window.slotMs);
  }

  /** What health is judged by (read without judging: no transition, no alert). */
  get thresholds(): HealthThresholds {
    return this.#thresholds;
  }

  /** Evaluates health now (feeding transitions and alerts); synchronous and cheap. */
  health(): HealthReport {
    const now = this.#o.clock.now();
    const total = this.window.total(now);
    // Percentiles are recomputed only when the window changed (a request, or a slot expiring),
    // so a load balancer polling health pays for a JSON answer, not a histogram scan.
    const requests = this.window.lifetime[0];
    const slot = this.window.latestSlot;
    let summary = this.#summary;
    if (summary === null || this.#summaryAt[0] !== requests || this.#summaryAt[1] !== slot) {
      summary = this.#summary = summarize(total, this.window.windowMs);
      this.#summaryAt[0] = requests;
      this.#summaryAt[1] = slot;
    }
    let verdict: HealthVerdict = this.enabled
      ? judge(summary, this.#thresholds)
      : { status: "ok", reasons: [], insufficient_data: true };
    const judged = verdict;
    const conditions = this.conditions.list();
    verdict = withConditions(judged, conditions);
    // Warming up happens on every start: health reports it, transitions and alerts leave it out.
    const lasting = conditions.filter((c) => c.name !== WARMING_CONDITION);
    const alerting = lasting.length === conditions.length
      ? verdict
      : withConditions(judged, lasting);
    this.alerts.observe(alerting, summary, now);
    return {
      ...verdict,
      summary,
      thresholds: this.#thresholds,
      monitoring: this.enabled ? "on" : "off",
      conditions,
    };
  }

  /**
   * Writes a small record to KV (the `health.kv-write` job): on failure, or when the write
   * takes over 5 s, the node is unhealthy until a later write succeeds. Throws on failure so
   * the job runner logs, counts and backs off.
   */
  async probeKv(): Promise<void> {
    const { kv, clock, config } = this.#o;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${KV_PROBE_TIMEOUT_MS} ms`)),
        KV_PROBE_TIMEOUT_MS,
      );
    });
    try {
      const write = kv.set(kvProbeKey(config.region, this.nodeId), { at: clock.now() }, {
        expireIn: Math.max(60_000, config.metrics.snapshotIntervalMs * 6),
      });
      await Promise.race([write, late]);
      this.conditions.clear("kv.write");
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.conditions.raise(
        "kv.write",
        "unhealthy",
        `the KV store cannot be written (${message.slice(0, 120)}): data writes, rate limits ` +
          "and analytics fail",
      );
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** This node's snapshot now. */
  snapshot(): NodeSnapshot {
    const { config, clock, metrics, startedAt } = this.#o;
    const now = clock.now();
    this.#sampleEvents(Math.floor(now / config.metrics.slotMs), now);
    return buildSnapshot({
      nodeId: this.nodeId,
      region: config.region,
      now,
      ttlMs: config.metrics.snapshotTtlMs,
      startedAt,
      window: this.window,
      health: this.health(),
      metrics,
      eventSlots: (first, count) => this.#events.series(first, count),
    });
  }

  /** Every live node's snapshot merged (this node's taken live, not from KV). */
  async stats(filter: { region?: string } = {}): Promise<GlobalStats> {
    const now = this.#o.clock.now();
    let read;
    try {
      read = await readSnapshots(this.#o.kv, now);
    } catch (error) {
      this.#o.log.error("global stats unavailable: KV read failed", { error });
      throw new HttpError(503, "Global stats are unavailable: the KV store could not be read", {
        code: "stats_unavailable",
        cause: error,
      });
    }
    for (const [reason, n] of Object.entries(read.skipped)) {
      if (n > 0) this.#skipped.inc({ reason }, n);
    }
    const own = this.snapshot();
    read.snapshots = read.snapshots.filter((s) => s.node_id !== this.nodeId);
    read.snapshots.push(own);
    if (filter.region !== undefined) {
      read.snapshots = read.snapshots.filter((s) => s.region === filter.region);
    }
    return mergeSnapshots(read, now);
  }

  /** The Prometheus text exposition of the whole registry (window gauges refreshed first). */
  prometheus(): string {
    const report = this.health();
    const s = report.summary;
    this.#up.set(report.status === "ok" ? 1 : 0);
    const g = this.#windowGauge;
    g.set(s.requests, { figure: "requests" });
    g.set(s.error_rate ?? 0, { figure: "error_ratio" });
    g.set((s.p50_ms ?? 0) / 1000, { figure: "p50_seconds" });
    g.set((s.p95_ms ?? 0) / 1000, { figure: "p95_seconds" });
    g.set((s.p99_ms ?? 0) / 1000, { figure: "p99_seconds" });
    return renderPrometheus(this.#o.metrics, { region: this.#o.config.region });
  }

  /** Removes this node's snapshot from KV (on shutdown). */
  async close(): Promise<void> {
    try {
      await deleteSnapshot(this.#o.kv, this.#o.config.region, this.nodeId);
    } catch (error) {
      this.#o.log.warn("could not remove the metrics snapshot", { error });
    }
  }
}

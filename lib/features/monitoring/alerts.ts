/**
 * Health transitions and their alerts: each change between ok, degraded and unhealthy is logged
 * once and put
 * in an in-memory outbox; a background job POSTs the outbox to the webhook in order, with a
 * timeout per attempt and the job runner's back-off while it fails. Requests only ever push to
 * the outbox, so a dead webhook cannot slow them.
 */

import type { Logger } from "../../core/log.ts";
import type { HealthStatus, HealthThresholds, HealthVerdict, WindowSummary } from "./health.ts";
import type { Counter, Gauge, MetricsRegistry } from "../../core/metrics.ts";

/** The JSON body POSTed for one transition. */
export interface HealthAlert {
  /** Unique per transition (also sent as `Idempotency-Key`): receivers can drop retries. */
  id: string;
  type: "outpost.health";
  node_id: string;
  region: string;
  from: HealthStatus;
  to: HealthStatus;
  at: string;
  reasons: string[];
  error_rate: number | null;
  p99_ms: number | null;
  requests: number;
  thresholds: { error_rate: number; p99_ms: number; min_requests: number };
  /** A one-line summary (Slack-compatible incoming webhooks show `text`). */
  text: string;
}

/** Options for {@linkcode HealthAlerts}. */
export interface HealthAlertsOptions {
  nodeId: string;
  region: string;
  thresholds: HealthThresholds;
  webhookUrl?: string;
  timeoutMs: number;
  maxPending: number;
  fetch: typeof fetch;
  log: Logger;
  metrics: MetricsRegistry;
}

/** Tracks the node's health status and delivers an alert per transition. */
export class HealthAlerts {
  readonly #o: HealthAlertsOptions;
  readonly #pending: HealthAlert[] = [];
  readonly #outcomes: Counter;
  readonly #pendingGauge: Gauge;
  readonly #transitions: Counter;
  #status: HealthStatus = "ok";
  #seq = 0;

  constructor(options: HealthAlertsOptions) {
    this.#o = options;
    const m = options.metrics;
    this.#outcomes = m.counter(
      "outpost_alerts_total",
      "Alert deliveries, by outcome (sent, failed, rejected, dropped)",
    );
    this.#pendingGauge = m.gauge("outpost_alerts_pending", "Alerts waiting for delivery");
    this.#transitions = m.counter(
      "outpost_health_transitions_total",
      "Health status changes, by the status entered",
    );
  }

  /** The last status seen. */
  get status(): HealthStatus {
    return this.#status;
  }

  /** Alerts not delivered yet (oldest first). */
  pending(): readonly HealthAlert[] {
    return this.#pending;
  }

  /** Feeds a fresh verdict; a change of status is logged and queued as one alert. */
  observe(verdict: HealthVerdict, summary: WindowSummary, now: number): void {
    if (verdict.status === this.#status) return;
    const from = this.#status;
    const to = verdict.status;
    this.#status = to;
    this.#transitions.inc({ to });
    const { region, nodeId } = this.#o;
    const text = to === "ok"
      ? `Outpost ${region} (${nodeId}) is healthy again`
      : `Outpost ${region} (${nodeId}) is ${to}: ${verdict.reasons.join("; ")}`;
    const level = to === "ok" ? "info" : "warn";
    this.#o.log[level]("health changed", { from, to, reasons: verdict.reasons, node_id: nodeId });
    if (!this.#o.webhookUrl) return;
    this.#pending.push({
      id: `${nodeId}-${now.toString(36)}-${(++this.#seq).toString(36)}`,
      type: "outpost.health",
      node_id: nodeId,
      region,
      from,
      to,
      at: new Date(now).toISOString(),
      reasons: verdict.reasons,
      error_rate: summary.error_rate,
      p99_ms: summary.p99_ms,
      requests: summary.requests,
      thresholds: {
        error_rate: this.#o.thresholds.maxErrorRate,
        p99_ms: this.#o.thresholds.maxP99Ms,
        min_requests: this.#o.thresholds.minRequests,
      },
      text,
    });
    while (this.#pending.length > this.#o.maxPending) {
      const dropped = this.#pending.shift()!;
      this.#outcomes.inc({ outcome: "dropped" });
      this.#o.log.error("alert dropped: too many undelivered", { alert_id: dropped.id });
    }
    this.#pendingGauge.set(this.#pending.length);
  }

  /**
   * Delivers pending alerts in order (the job body). Throws on the first failure so the job
   * runner backs off; a 4xx other than 408/429 is final and drops that alert.
   */
  async deliver(signal?: AbortSignal): Promise<void> {
    const url = this.#o.webhookUrl;
    while (url && this.#pending.length > 0) {
      const alert = this.#pending[0];
      const res = await this.#post(url, alert, signal);
      if (res.ok || (res.status >= 400 && res.status < 500 && ![408, 429].includes(res.status))) {
        this.#pending.shift();
        this.#pendingGauge.set(this.#pending.length);
        this.#outcomes.inc({ outcome: res.ok ? "sent" : "rejected" });
        if (!res.ok) {
          this.#o.log.error("alert rejected by webhook", {
            alert_id: alert.id,
            status: res.status,
            webhook: safeUrl(url),
          });
        }
        continue;
      }
      this.#outcomes.inc({ outcome: "failed" });
      throw new Error(`Alert webhook ${safeUrl(url)} answered ${res.status} (alert ${alert.id})`);
    }
  }

  async #post(url: string, alert: HealthAlert, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(this.#o.timeoutMs);
    try {
      const res = await this.#o.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": alert.id },
        body: JSON.stringify(alert),
        redirect: "manual",
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      await res.body?.cancel();
      return res;
    } catch (error) {
      this.#outcomes.inc({ outcome: "failed" });
      throw new Error(
        `Alert webhook ${safeUrl(url)} unreachable (alert ${alert.id}): ${
          (error as Error).message
        }`,
      );
    }
  }
}

/** The webhook's origin only: its path or query may hold a secret. */
function safeUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid url)";
  }
}

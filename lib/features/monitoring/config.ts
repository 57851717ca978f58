/** The `metrics` section: recording, the sliding window, health thresholds, snapshots, alerts. */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";

/** Monitoring: recording, the sliding window, health thresholds, snapshots, alerts, access. */
export const MetricsConfigSchema = z.object({
  /** Record every request (off: `/_edge/metrics` shows only what other areas count). */
  enabled: z.boolean().default(true),
  /** Length of the sliding window behind health and "now" figures. */
  windowMs: z.number().int().min(1000).max(3_600_000).default(300_000),
  /** Length of one slot of the window (the window is a ring of them). */
  slotMs: z.number().int().min(100).max(600_000).default(10_000),
  /** How often this node writes its snapshot to KV for `/_edge/stats`. */
  snapshotIntervalMs: z.number().int().min(200).max(600_000).default(10_000),
  /** How long a snapshot counts as live (KV `expireIn`; checked on read too). */
  snapshotTtlMs: z.number().int().min(1000).max(3_600_000).default(60_000),
  health: z.object({
    /** Unhealthy at or above this share of 5xx answers in the window. */
    maxErrorRate: z.number().min(0).max(1).default(0.01),
    /** Unhealthy at or above this p99 latency in the window. */
    maxP99Ms: z.number().positive().max(3_600_000).default(200),
    /**
     * The latency the window counts: `total` (what the client waited) or `edge` (minus the time
     * spent waiting for origins), for an edge far from its origin.
     */
    latency: z.enum(["total", "edge"]).default("total"),
    /**
     * Count 5xx passed through from origins in the error rate too (default: only 5xx the edge
     * made itself; an origin's errors are shown separately).
     */
    countOriginErrors: z.boolean().default(false),
    /** Fewer requests than this in the window: too few to judge, counted as healthy. */
    minRequests: z.number().int().min(0).max(1_000_000).default(20),
    /** How often health is evaluated in the background (for transitions and alerts). */
    checkIntervalMs: z.number().int().min(100).max(600_000).default(5_000),
  }).prefault({}),
  alerts: z.object({
    /** POSTed a JSON alert on every healthy ↔ unhealthy transition (`ALERT_WEBHOOK_URL`). */
    webhookUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
    /** Time allowed for one delivery attempt. */
    timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** Undelivered alerts kept (oldest dropped past this). */
    maxPending: z.number().int().min(1).max(10_000).default(100),
  }).prefault({}),
  /** Bearer token for the dashboard, stats and metrics (`ADMIN_TOKEN`; environment only). */
  adminToken: z.string().min(16, "Must be at least 16 characters").max(512).optional(),
}).superRefine((m, ctx) => {
  if (m.windowMs % m.slotMs !== 0) {
    ctx.addIssue({
      code: "custom",
      path: ["windowMs"],
      message: `Must be a whole number of slots of ${m.slotMs} ms: ${m.windowMs}`,
    });
  }
  if (m.windowMs / m.slotMs > 360) {
    ctx.addIssue({
      code: "custom",
      path: ["slotMs"],
      message: `At most 360 slots per window (${m.windowMs} ms): ${m.slotMs}`,
    });
  }
  if (m.snapshotTtlMs <= m.snapshotIntervalMs) {
    ctx.addIssue({
      code: "custom",
      path: ["snapshotTtlMs"],
      message: `Must exceed snapshotIntervalMs (${m.snapshotIntervalMs}): ${m.snapshotTtlMs}`,
    });
  }
}).prefault({});

/** The validated `metrics` section. */
export type MetricsConfig = z.infer<typeof MetricsConfigSchema>;

/** The fields this feature owns. */
export const MONITORING_FIELDS = { metrics: MetricsConfigSchema };

/** Environment variables of this feature, and the config field each sets. */
export const MONITORING_ENV: EnvTable = {
  METRICS_ENABLED: { path: "metrics.enabled", kind: "bool" },
  HEALTH_MAX_ERROR_RATE: { path: "metrics.health.maxErrorRate", kind: "number" },
  HEALTH_MAX_P99_MS: { path: "metrics.health.maxP99Ms", kind: "number" },
  HEALTH_LATENCY: { path: "metrics.health.latency", kind: "string" },
  ALERT_WEBHOOK_URL: { path: "metrics.alerts.webhookUrl", kind: "string" },
  ADMIN_TOKEN: {
    path: "metrics.adminToken",
    kind: "secret",
    notInModule: "Set ADMIN_TOKEN in the environment, not in the config module",
  },
};

/** How the loader reads them. */
export const MONITORING_CONFIG: FeatureConfig<typeof MONITORING_FIELDS> = {
  fields: MONITORING_FIELDS,
  env: MONITORING_ENV,
};

/**
 * The analytics part of the configuration (`role` and `analytics.*`), the environment variables
 * that set it, and the defaults that depend on the mode (flush interval, scheduler).
 */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";

/** The collector token in development when `CENTRAL_TOKEN` is unset (documented, not secret). */
export const DEV_CENTRAL_TOKEN = "outpost-dev-central-token";

/** Which halves of analytics a node runs: the edge (ingest, sync), the collector, or both. */
export const RoleSchema = z.enum(["edge", "central", "both"]);
export type Role = z.infer<typeof RoleSchema>;

const CentralUrlSchema = z.string().max(2048).refine((value) => {
  try {
    const url = new URL(value);
    return ["http:", "https:", "internal:"].includes(url.protocol) && !url.username &&
      !url.password && !url.search && !url.hash;
  } catch {
    return false;
  }
}, "Must be an http(s) base URL without credentials, query or fragment").transform((v) =>
  v.replace(/\/+$/, "")
);

/** Settings of the analytics edge and collector. */
export const AnalyticsConfigSchema = z.object({
  /** Turns the edge half off (ingest, tracking, sync); the collector follows `role`. */
  enabled: z.boolean().default(true),
  /** With the region, names this node in summaries (`edge_id` = `<region>/<nodeId>`). */
  nodeId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "Must be 1-64 of A-Za-z0-9._-").default(
    "main",
  ),
  /** Length of an aggregation interval, and how often intervals are closed and sent. */
  flushSeconds: z.number().int().min(1).max(86_400).default(60),
  /** `cron` uses `Deno.cron` (Deno Deploy); `timer` registers with the node's background jobs. */
  scheduler: z.enum(["timer", "cron"]).default("timer"),
  /** The collector's base URL; default: this node itself (role `both`). */
  centralUrl: CentralUrlSchema.optional(),
  /** Shared secret for `/_central/*` (from `CENTRAL_TOKEN`). */
  centralToken: z.string().min(16, "Must be at least 16 characters").max(512).optional(),
  /** How long raw events stay queryable at the edge. */
  retentionHours: z.number().int().min(1).max(720).default(24),
  /** Most events in one `POST /events`. */
  maxBatchEvents: z.number().int().min(1).max(200).default(100),
  /** Largest `POST /events` body (one KV commit holds the whole batch, so at most 512 KiB). */
  maxBodyBytes: z.number().int().min(1024).max(512 * 1024).default(256 * 1024),
  /** How far in the future an event's timestamp may be (clock skew allowance). */
  maxFutureSeconds: z.number().int().min(0).max(86_400).default(300),
  properties: z.object({
    /** Serialized size of one event's `properties`. */
    maxBytes: z.number().int().min(64).max(16 * 1024).default(4096),
    maxDepth: z.number().int().min(1).max(16).default(4),
    /** Keys over the whole object, nested ones included. */
    maxKeys: z.number().int().min(1).max(1024).default(64),
  }).prefault({}),
  outbox: z.object({
    /** Closed intervals waiting for the collector; beyond this, intervals stay open. */
    maxRecords: z.number().int().min(1).max(100_000).default(1440),
  }).prefault({}),
  send: z.object({
    timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    baseBackoffMs: z.number().int().min(10).max(3_600_000).default(1000),
    maxBackoffMs: z.number().int().min(10).max(86_400_000).default(300_000),
  }).prefault({}),
  /** Time allowed on shutdown to close the open interval and send what is pending. */
  shutdownFlushMs: z.number().int().min(0).max(60_000).default(5000),
  track: z.object({
    /** Requests to these paths (exact, or prefixes ending in `*`) are recorded as events. */
    paths: z.array(z.string().startsWith("/").max(512)).max(64).default([]),
    eventType: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/).default("page_view"),
  }).prefault({}),
  /** Days the collector remembers applied idempotency keys. */
  idempotencyDays: z.number().int().min(1).max(3650).default(30),
}).prefault({});

export type AnalyticsConfig = z.infer<typeof AnalyticsConfigSchema>;

/** The fields this feature owns: which halves run (`role`), and how. */
export const ANALYTICS_FIELDS = {
  /** Analytics halves this node runs (`OUTPOST_ROLE`): `edge`, `central` or `both`. */
  role: RoleSchema.default("both"),
  analytics: AnalyticsConfigSchema,
};

/** Environment variables of this feature, and the config field each sets. */
export const ANALYTICS_ENV: EnvTable = {
  OUTPOST_ROLE: { path: "role", kind: "string" },
  EDGE_NODE_ID: { path: "analytics.nodeId", kind: "string" },
  ANALYTICS_FLUSH_SECONDS: { path: "analytics.flushSeconds", kind: "int" },
  ANALYTICS_SCHEDULER: { path: "analytics.scheduler", kind: "string" },
  ANALYTICS_CENTRAL_URL: { path: "analytics.centralUrl", kind: "string" },
  CENTRAL_TOKEN: { path: "analytics.centralToken", kind: "secret", moduleToo: true },
  ANALYTICS_TRACK_PATHS: { path: "analytics.track.paths", kind: "list" },
};

/** Cross-field rules: separate edge and central processes must share a configured token. */
function checkAnalyticsConfig(
  cfg: { role: Role; mode: string; analytics: AnalyticsConfig },
  ctx: z.RefinementCtx,
): void {
  const a = cfg.analytics;
  // A missing CENTRAL_TOKEN is not an error (the collector and sending wait for it, see
  // `centralTokenOf`); the published development token is one in production.
  if (cfg.mode === "production" && a.centralToken === DEV_CENTRAL_TOKEN) {
    ctx.addIssue({
      code: "custom",
      path: ["analytics", "centralToken"],
      message: "The published development token cannot be used in production",
    });
  }
  if (cfg.role === "edge" && a.enabled && a.centralUrl === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["analytics", "centralUrl"],
      message: "Required when role is edge (set ANALYTICS_CENTRAL_URL)",
    });
  }
  if (a.centralUrl?.startsWith("internal:") && a.centralUrl !== "internal://self") {
    ctx.addIssue({
      code: "custom",
      path: ["analytics", "centralUrl"],
      message: `The only in-process collector is internal://self: ${a.centralUrl}`,
    });
  }
  if (a.send.maxBackoffMs < a.send.baseBackoffMs) {
    ctx.addIssue({
      code: "custom",
      path: ["analytics", "send", "maxBackoffMs"],
      message: `Must be at least send.baseBackoffMs: ${a.send.maxBackoffMs}`,
    });
  }
}

/**
 * How the loader reads them: intervals of 10 s in development (60 s otherwise), closed by
 * `Deno.cron` on Deno Deploy.
 */
export const ANALYTICS_CONFIG: FeatureConfig<typeof ANALYTICS_FIELDS> = {
  fields: ANALYTICS_FIELDS,
  env: ANALYTICS_ENV,
  defaults: (ctx) => ({
    "analytics.flushSeconds": ctx.dev ? 10 : 60,
    "analytics.scheduler": ctx.onDeploy ? "cron" : "timer",
  }),
  check: checkAnalyticsConfig,
};

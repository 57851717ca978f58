/**
 * What `/_edge/whereami`, `/_edge/health` and `/_edge/stats` answer, as zod schemas: the routes
 * build these bodies directly and name these schemas in their descriptions (the API document);
 * tests parse live answers with them, so a route and its documented answer cannot drift apart.
 */

import { z } from "zod";

const Rate = z.number().min(0).max(1).nullable();
const Ms = z.number().min(0).nullable();
const Count = z.number().int().min(0);

/** `GET /_edge/whereami`. */
export const WhereAmISchema = z.object({
  source: z.enum(["user-headers", "cloudflare", "vercel", "cloudfront", "ip-database", "default"]),
  country: z.string().nullable().describe("ISO 3166-1 alpha-2"),
  lat: z.number().nullable(),
  lon: z.number().nullable(),
  nearestRegion: z.string(),
  distanceKm: z.number().nullable(),
  clientIp: z.string().nullable(),
  servedBy: z.string(),
});

const CircuitSchema = z.object({
  state: z.enum(["closed", "open", "half-open"]),
  consecutiveFailures: Count,
  lastError: z.string().nullable(),
  retryAt: z.number().nullable(),
});

/**
 * `GET /_edge/health` (200 ok or degraded, 503 unhealthy: same shape). Degraded: the node serves,
 * but something is off, e.g. a missing secret keeps some routes closed (each named in `reasons`).
 */
export const HealthSchema = z.object({
  status: z.enum(["ok", "degraded", "unhealthy"]),
  region: z.string(),
  node_id: z.string(),
  uptime_s: Count,
  edge_error_rate: Rate.describe("Share of requests in the window answered 5xx made by the edge"),
  origin_error_rate: Rate.describe(
    "Share of requests in the window answered 5xx passed through from an origin (not judged " +
      "unless metrics.health.countOriginErrors)",
  ),
  p99_ms: Ms,
  requests: Count,
  reasons: z.array(z.string()).describe("Why the node is degraded or unhealthy (empty when ok)"),
  notes: z.array(z.string()).optional().describe(
    "What the node does not know about itself, not a fault (e.g. its region: unknown)",
  ),
  conditions: z.record(z.string(), z.enum(["degraded", "unhealthy"])).optional().describe(
    "Conditions in force by name (e.g. kv.write, origins, authz.module, warming while the IP " +
      "database loads after start): always with ?verbose=1, else only when some are",
  ),
  error_rate: Rate.optional().describe("With ?verbose=1: share of every 5xx, edge and origin"),
  p50_ms: Ms.optional().describe("With ?verbose=1"),
  p95_ms: Ms.optional().describe("With ?verbose=1"),
  window_s: z.number().optional().describe("With ?verbose=1"),
  thresholds: z.object({
    error_rate: z.number(),
    p99_ms: z.number(),
    min_requests: Count,
    latency: z.enum(["total", "edge"]).describe(
      "What p99 measures: what clients waited, or the edge's own time (origin wait excluded)",
    ),
    count_origin_errors: z.boolean().describe(
      "Whether 5xx passed through from origins count in the judged error rate",
    ),
  })
    .optional().describe("With ?verbose=1"),
  insufficient_data: z.boolean().optional().describe("With ?verbose=1"),
  monitoring: z.enum(["on", "off"]).optional().describe("With ?verbose=1"),
  origins: z.record(
    z.string(),
    CircuitSchema.extend({
      paths: z.record(z.string(), CircuitSchema).optional().describe(
        "Path-group circuits (proxy.breaker.countStatuses), by group",
      ),
    }),
  ).optional().describe(
    "Circuit breakers by origin URL: all with ?verbose=1, else only those not closed (absent when none)",
  ),
  ip_database: z.enum(["off", "loading", "ready", "failed"]).optional().describe(
    "With ?verbose=1: the offline IP-to-country database (off: disabled by config; loading: " +
      "from start until loaded after the first answer)",
  ),
  jobs: z.object({
    total: Count,
    failing: z.record(
      z.string(),
      z.object({ consecutive_failures: Count, last_error: z.string().nullable() }),
    ).describe("Jobs whose last run failed, by name (all counters are in /_edge/metrics)"),
  }).optional().describe("Background jobs: with ?verbose=1, else only when some are failing"),
  platform: z.object({
    kind: z.enum(["deno-deploy", "self-hosted"]),
    region_source: z.enum(["EDGE_REGION", "config", "development", "unknown"]),
    deployment_id: z.string().optional().describe("DENO_DEPLOYMENT_ID"),
    timeline: z.string().optional().describe("DENO_TIMELINE"),
    app: z.string().optional().describe("DENO_DEPLOY_APP_SLUG"),
    kv: z.object({
      source: z.enum(["path", "url", "platform"]),
      open: z.boolean(),
      shared: z.boolean().nullable().describe(
        "Deno Deploy's default KV: seen to be shared (null: not checked)",
      ),
    }).nullable(),
    cdn: z.object({ guard: z.boolean(), purge: z.boolean() }),
  }).optional().describe("With ?verbose=1: where the node runs (docs/deploy.md)"),
});

const GroupStatsShape = {
  requests: Count,
  requests_per_s: z.number().min(0),
  error_rate: Rate,
  avg_latency_ms: Ms,
  p50_ms: Ms,
  p95_ms: Ms,
  p99_ms: Ms,
  cache_hit_rate: Rate,
};

/** `GET /_edge/stats`: every live node's snapshot merged. */
export const GlobalStatsSchema = z.object({
  generated_at: z.iso.datetime(),
  window_s: z.number(),
  total_requests: Count,
  ...GroupStatsShape,
  edge_count: Count,
  unhealthy_edges: Count,
  per_region: z.array(
    z.object({ region: z.string(), edges: Count, unhealthy: Count, ...GroupStatsShape }),
  ),
  per_edge: z.array(z.object({
    node_id: z.string(),
    region: z.string(),
    status: z.enum(["ok", "degraded", "unhealthy"]),
    reasons: z.array(z.string()),
    total_requests: Count,
    uptime_s: Count,
    age_s: z.number().min(0),
    ...GroupStatsShape,
  })),
  series: z.object({
    slot_ms: z.number(),
    start: z.number().describe("Epoch ms at which the first slot starts"),
    complete: z.number().int().describe("Slots up to this index are complete in every snapshot"),
    regions: z.record(
      z.string(),
      z.object({
        requests_per_s: z.array(z.number()),
        errors_per_s: z.array(z.number()),
        cache_hit_rate: z.array(Rate).describe("Hits over lookups that could hit, per slot"),
        p50_ms: z.array(Ms).describe("From merged per-slot histograms, within 6.25%"),
        p99_ms: z.array(Ms),
      }),
    ).describe("Per region, one entry per slot; null where the slot had nothing to measure"),
    events_per_s: z.record(z.string(), z.array(z.number())).describe(
      "Analytics events per second per slot over every edge, by counter name",
    ),
  }).nullable(),
  analytics: z.record(z.string(), z.number()).describe("Every outpost_analytics_* counter, summed"),
  skipped: z.object({ corrupt: Count, old_format: Count, expired: Count }),
});

/** The node's own endpoints (`/_edge/*`) as document operations. */

import { SyncAckSchema, SyncPayloadSchema } from "../../crdt/sync/protocol.ts";
import { PurgeBodySchema } from "../../cache/routes.ts";
import { StatsQuerySchema } from "../../monitoring/routes.ts";
import { bytes, type DocContext, json, jsonBody, type Operation } from "./operation.ts";
import { DEFAULT_PROBLEM, problems } from "./problem.ts";
import {
  CacheSnapshotSchema,
  GlobalStatsSchema,
  HealthSchema,
  PurgeResultSchema,
  SyncStatusSchema,
  WhereAmISchema,
} from "./responses_edge.ts";

/** Stats, metrics and the cache snapshot: the admin token as a bearer header. */
const ADMIN: Array<Record<string, string[]>> = [{ adminToken: [] }];
const ADMIN_CODES = {
  401: "`admin_token_required`: no token given (when `ADMIN_TOKEN` is set)",
  403: "`admin_token_invalid`: wrong token",
  503: "`admin_not_configured`: production without `ADMIN_TOKEN`",
};
const SYNC_CODES = {
  401: "`unauthorized`: no or wrong sync token",
  403: "`sync_disabled`: this node has no `SYNC_TOKEN`",
};

function text(description: string, type: string): Operation["responses"][string] {
  return { description, content: { [type]: { schema: { type: "string" } } } };
}

/** Operations under `/_edge`. */
export function edgeOperations(ctx: DocContext): Operation[] {
  const { book, config } = ctx;
  const ops: Operation[] = [
    {
      method: "get",
      path: "/_edge/whereami",
      operationId: "getWhereAmI",
      tags: ["Node"],
      summary: "Where the edge thinks the caller is",
      description: "Location from trusted proxy headers, the IP database or the default, and the " +
        "nearest region.",
      responses: {
        200: json("The caller's location", book.ref("WhereAmI", WhereAmISchema)),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/_edge/health",
      operationId: "getHealth",
      tags: ["Node"],
      summary: "This node's health (for load balancers)",
      description:
        `Healthy while the window's rate of 5xx ${
          config.metrics.health.countOriginErrors ? "(edge and origin)" : "made by the edge"
        } is under ${config.metrics.health.maxErrorRate * 100}% and p99 under ` +
        `${config.metrics.health.maxP99Ms} ms (with at least ` +
        `${config.metrics.health.minRequests} requests to judge by), and no condition is in ` +
        "force: a policy module that did not load, every origin out of rotation or a KV store " +
        "that cannot be written make the node unhealthy (503), lesser ones degraded (200), " +
        "whatever the traffic. Public. The answer is small by default (breakers, conditions " +
        "and jobs only when they need attention); `?verbose=1` adds thresholds, percentiles, " +
        "every breaker, condition and job.",
      parameters: [{
        name: "verbose",
        in: "query",
        required: false,
        description: "`1` for the full answer",
        schema: { type: "string", enum: ["0", "1"] },
      }],
      responses: {
        200: json("Healthy or degraded", book.ref("Health", HealthSchema)),
        503: json("Unhealthy; `reasons` says why", book.ref("Health", HealthSchema)),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/_edge/metrics",
      operationId: "getMetrics",
      tags: ["Monitoring"],
      summary: "Prometheus metrics of this node",
      description: "Text exposition format 0.0.4: counters, gauges and latency histograms " +
        "(`_bucket`/`_sum`/`_count`) labelled by `region`, `route` and `cache`.",
      security: ADMIN,
      responses: {
        200: text("The metrics", "text/plain; version=0.0.4; charset=utf-8"),
        ...problems(ADMIN_CODES),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/_edge/stats",
      operationId: "getStats",
      tags: ["Monitoring"],
      summary: "Global statistics: every live node's snapshot merged",
      description: "Percentiles come from merged histograms. Unknown query parameters are ignored.",
      security: ADMIN,
      parameters: book.parameters("query", StatsQuerySchema, {
        region: "Only this region's edges",
      }),
      responses: {
        200: json("Merged statistics", book.ref("GlobalStats", GlobalStatsSchema)),
        ...problems({
          400: "`validation_failed`: malformed `region`",
          ...ADMIN_CODES,
          503: "`admin_not_configured`: production without `ADMIN_TOKEN`; `stats_unavailable`: " +
            "KV cannot be read",
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/_edge/dashboard",
      operationId: "getDashboard",
      tags: ["Monitoring"],
      summary: "The operator dashboard (HTML, public; it holds no data)",
      description: "Charts of every region from `/_edge/stats`, whose history it backfills on " +
        "load. Where the node needs the admin token the page asks for it in a sign-in form, " +
        "keeps it in the tab's session storage and sends it as a bearer header, never in a URL.",
      parameters: [{
        name: "interval_ms",
        in: "query",
        required: false,
        description: "Refresh period, read by the page's script",
        schema: { type: "integer", minimum: 1000, default: 5000 },
      }],
      responses: {
        200: text("The page", "text/html; charset=utf-8"),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/_edge/dashboard/app.js",
      operationId: "getDashboardScript",
      tags: ["Monitoring"],
      summary: "The dashboard's script (public, immutable)",
      responses: { 200: text("The bundle", "text/javascript; charset=utf-8") },
    },
    {
      method: "get",
      path: "/_edge/dashboard/app.css",
      operationId: "getDashboardStyles",
      tags: ["Monitoring"],
      summary: "The dashboard's stylesheet (public, immutable)",
      responses: { 200: text("The stylesheet", "text/css; charset=utf-8") },
    },
    {
      method: "post",
      path: "/_edge/sync",
      operationId: "postSync",
      tags: ["Sync"],
      summary: "Merge a peer's CRDT deltas or full state",
      description: "Validated whole before anything is merged: a bad payload changes nothing. " +
        "Merges are idempotent, so retries are safe. Register values are limited to " +
        `${bytes(config.crdt.maxRegisterBytes)} and timestamps to ` +
        `${config.crdt.maxClockDriftMs / 1000} s ahead of this node's clock.`,
      security: [{ syncToken: [] }],
      requestBody: jsonBody(
        book.ref("SyncPayload", SyncPayloadSchema),
        `Sync protocol version 1, at most ${bytes(config.sync.maxBodyBytes)}`,
      ),
      responses: {
        200: json("Merged", book.ref("SyncAck", SyncAckSchema)),
        ...problems({
          400: "`validation_failed` (with `errors`), `invalid_json`, `too_deep`",
          ...SYNC_CODES,
          409: "`replica_collision`: the sender uses this node's replica id",
          413: "`body_too_large`",
          415: "`unsupported_media_type`",
          503: "`busy`: lost races with other writers; retry",
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/_edge/sync",
      operationId: "getSyncStatus",
      tags: ["Sync"],
      summary: "This replica and its peers' progress",
      security: [{ syncToken: [] }],
      responses: {
        200: json("Replica and peers", book.ref("SyncStatus", SyncStatusSchema)),
        ...problems(SYNC_CODES),
        default: DEFAULT_PROBLEM,
      },
    },
  ];
  if (ctx.cache) ops.push(...cacheOperations(ctx));
  if (config.docs.enabled) ops.push(...docsOperations());
  return ops;
}

function cacheOperations({ book }: DocContext): Operation[] {
  return [
    {
      method: "post",
      path: "/_edge/purge",
      operationId: "purgeCache",
      tags: ["Cache"],
      summary: "Purge cached responses on every node, by URL and tag",
      description: "`urls` are absolute http(s) URLs or paths resolved against this request's " +
        "host; `tags` match the origin's `Cache-Tag` / `Surrogate-Key`. `soft` marks entries " +
        "stale instead of deleting them. Other nodes follow through KV. On Deno Deploy the tags " +
        "and each URL's path tag are also purged from the platform's CDN.",
      security: [{ adminToken: [] }],
      requestBody: jsonBody(book.ref("PurgeRequest", PurgeBodySchema), "At most 256 KiB"),
      responses: {
        200: json("Purged", book.ref("PurgeResult", PurgeResultSchema)),
        ...problems({
          400: "`validation_failed` (with `errors`), `invalid_json`",
          401: "`unauthorized`: no or wrong admin token",
          413: "`body_too_large`",
          415: "`unsupported_media_type`",
          502: "`cdn_purge_failed`: purged here, but Deno Deploy's CDN did not confirm; repeat",
          503: "`purge_failed`: KV unavailable; retry",
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/_edge/cache",
      operationId: "getCacheStats",
      tags: ["Cache"],
      summary: "This node's cache: memory tier and work in flight",
      security: ADMIN,
      responses: {
        200: json("Figures", book.ref("CacheSnapshot", CacheSnapshotSchema)),
        ...problems(ADMIN_CODES),
        default: DEFAULT_PROBLEM,
      },
    },
  ];
}

function docsOperations(): Operation[] {
  return [
    {
      method: "get",
      path: "/_edge/openapi.json",
      operationId: "getOpenApiDocument",
      tags: ["Docs"],
      summary: "This document (OpenAPI 3.1)",
      responses: {
        200: json("The document", {
          type: "object",
          required: ["openapi", "info", "paths"],
          properties: { openapi: { const: "3.1.0" } },
        }),
      },
    },
    {
      method: "get",
      path: "/_edge/docs",
      operationId: "getApiDocs",
      tags: ["Docs"],
      summary: "Swagger UI for this document (every asset served by this node)",
      responses: { 200: text("The page", "text/html; charset=utf-8") },
    },
    {
      method: "get",
      path: "/_edge/docs/swagger-ui-bundle.js",
      operationId: "getApiDocsScript",
      tags: ["Docs"],
      summary: "Swagger UI's script, from the pinned swagger-ui-dist package (public)",
      description: "Immutable when asked for with the page's `?v=`; otherwise revalidated by ETag.",
      responses: { 200: text("The script", "text/javascript; charset=utf-8") },
    },
    {
      method: "get",
      path: "/_edge/docs/swagger-ui.css",
      operationId: "getApiDocsStyles",
      tags: ["Docs"],
      summary: "Swagger UI's stylesheet, from the pinned swagger-ui-dist package (public)",
      responses: { 200: text("The stylesheet", "text/css; charset=utf-8") },
    },
    {
      method: "get",
      path: "/_edge/docs/init.js",
      operationId: "getApiDocsInit",
      tags: ["Docs"],
      summary: "The script that starts Swagger UI on this document (public)",
      responses: { 200: text("The script", "text/javascript; charset=utf-8") },
    },
  ];
}

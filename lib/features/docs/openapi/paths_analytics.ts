/** `/events` (analytics at the edge) and `/_central` (the collector) as document operations. */

import { z } from "zod";
import { IDEMPOTENCY_KEY } from "../../analytics/central/collector.ts";
import { type EventLimits, eventsBodySchema, UserIdSchema } from "../../analytics/event_schema.ts";
import { SummarySchema } from "../../analytics/summary.ts";
import { CentralStatsQuerySchema } from "../../analytics/central/routes.ts";
import { eventsQuerySchemas } from "../../analytics/routes.ts";
import { bytes, type DocContext, json, type Operation } from "./operation.ts";
import { DEFAULT_PROBLEM, problems } from "./problem.ts";
import {
  BandwidthSchema,
  CentralStatsSchema,
  CentralUserSchema,
  EventCountsSchema,
  EventsAcceptedSchema,
  FlushReportSchema,
  SummaryAppliedSchema,
  UserEventsSchema,
} from "./responses_data.ts";

function limitsText(limits: EventLimits, maxBodyBytes: number): string {
  const p = limits.properties;
  return `One event or \`{ "events": [...] }\` with 1 to ${limits.maxBatchEvents}, at most ` +
    `${bytes(maxBodyBytes)}. \`timestamp\` (default now): epoch ms or ISO 8601, at most ` +
    `${limits.maxFutureMs / 1000} s ahead and within the retention of ` +
    `${limits.retentionMs / 3_600_000} h. \`properties\`: a JSON object of at most ` +
    `${bytes(p.maxBytes)}, ${p.maxKeys} keys and ${p.maxDepth} levels. Without \`partial\`, ` +
    "one bad event refuses the whole batch.";
}

function eventsOperations(ctx: DocContext, limits: EventLimits): Operation[] {
  const { book, config } = ctx;
  const cfg = config.analytics;
  const { UserQuery, CountsQuery, PostQuery } = eventsQuerySchemas(cfg);
  const body = book.ref("EventsRequest", eventsBodySchema(limits, ctx.now));
  const minutes = `Minutes back, up to the retention (${cfg.retentionHours} h)`;
  return [
    {
      method: "post",
      path: "/events",
      operationId: "postEvents",
      tags: ["Analytics"],
      summary: "Record analytics events at this edge",
      description: limitsText(limits, cfg.maxBodyBytes),
      parameters: [
        ...book.parameters("query", PostQuery, {
          partial: "Store the valid events and report the others",
        }),
        {
          name: "Idempotency-Key",
          in: "header",
          required: false,
          description: "Makes retries safe: a batch sent again under the same key (within 24 h, " +
            "at this edge) is stored once and answered as the first time. 1-255 visible ASCII " +
            "characters, bare or quoted.",
          schema: { type: "string", minLength: 1, maxLength: 257 },
        },
      ],
      requestBody: {
        required: true,
        description: "`text/plain` is accepted as `navigator.sendBeacon` sends it",
        content: { "application/json": { schema: body }, "text/plain": { schema: body } },
      },
      responses: {
        202: json(
          "Stored (or stored before, under the same Idempotency-Key)",
          book.ref("EventsAccepted", EventsAcceptedSchema),
          {
            headers: {
              "Idempotent-Replayed": {
                description: "`true` when this answers a batch already stored under the key",
                schema: { type: "string", enum: ["true"] },
              },
            },
          },
        ),
        ...problems({
          400: "`invalid_events` (with `errors`: index, path, message; nothing stored), " +
            "`invalid_json`, `validation_failed` (query), `invalid_idempotency_key`",
          413: "`body_too_large`",
          415: "`unsupported_media_type`",
          422: "`idempotency_key_reused`: the key was used with another body",
          503: "`store_unavailable`: KV refused the write; retry",
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/events/users/{id}",
      operationId: "getUserEvents",
      tags: ["Analytics"],
      summary: "A user's recent events at this edge, newest first",
      parameters: [
        ...book.parameters("path", z.object({ id: UserIdSchema })),
        ...book.parameters("query", UserQuery, {
          minutes,
          limit: "Events per page",
          cursor: "`next_cursor` of the previous page",
        }),
      ],
      responses: {
        200: json("A page of events", book.ref("UserEvents", UserEventsSchema)),
        ...problems({ 400: "`validation_failed`, `invalid_cursor`" }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/events/counts",
      operationId: "getEventCounts",
      tags: ["Analytics"],
      summary: "This edge's counts by event type over the last minutes",
      parameters: book.parameters("query", CountsQuery, { minutes }),
      responses: {
        200: json("Counts", book.ref("EventCounts", EventCountsSchema)),
        ...problems({ 400: "`validation_failed`" }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "post",
      path: "/_edge/analytics/flush",
      operationId: "flushAnalytics",
      tags: ["Analytics"],
      summary: "Close the running interval and send every summary now (operators)",
      description: `Without it, events reach the collector after their interval ends ` +
        `(\`analytics.flushSeconds\`: ${cfg.flushSeconds} s here) and the next flush. What ` +
        "cannot be delivered stays in the outbox for the flush job. Open in development without " +
        "`ADMIN_TOKEN`, closed (503) in production without it.",
      security: [{ adminToken: [] }],
      responses: {
        200: json("What the flush did", book.ref("FlushReport", FlushReportSchema)),
        ...problems({
          401: "`admin_token_required`: no token given (when `ADMIN_TOKEN` is set)",
          403: "`admin_token_invalid`: wrong token",
          503: "`admin_not_configured`: production without `ADMIN_TOKEN`; `store_unavailable`: " +
            "KV could not be read or written; retry",
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/events/bandwidth",
      operationId: "getBandwidth",
      tags: ["Analytics"],
      summary: "Raw event bytes received against summary bytes sent",
      responses: {
        200: json("The report", book.ref("Bandwidth", BandwidthSchema)),
        default: DEFAULT_PROBLEM,
      },
    },
  ];
}

function centralOperations({ book }: DocContext): Operation[] {
  const security = [{ collectorToken: [] }];
  const unauthorized = "`unauthorized`: no or wrong `CENTRAL_TOKEN`";
  const user = book.parameters("path", z.object({ id: UserIdSchema }));
  return [
    {
      method: "post",
      path: "/_central/summary",
      operationId: "postSummary",
      tags: ["Collector"],
      summary: "Apply an edge's interval summary (idempotent by key)",
      description: "Counts must add up to `total_events`. A key already applied changes nothing " +
        "(`status: duplicate`). At most 8 MiB compressed, 32 MiB inflated.",
      security,
      parameters: [
        ...book.parameters(
          "header",
          z.object({ "Idempotency-Key": z.string().regex(IDEMPOTENCY_KEY) }),
          {
            "Idempotency-Key": "Names the summary; repeats are answered `duplicate`",
          },
        ),
        {
          name: "Content-Encoding",
          in: "header",
          required: false,
          schema: { enum: ["identity", "gzip"] },
        },
      ],
      requestBody: {
        required: true,
        content: { "application/json": { schema: book.ref("Summary", SummarySchema) } },
      },
      responses: {
        200: json("Applied or duplicate", book.ref("SummaryApplied", SummaryAppliedSchema)),
        ...problems({
          400: "`idempotency_key_required`, `validation_failed` (with `errors`), `invalid_json`, " +
            "`invalid_gzip`",
          401: unauthorized,
          413: "`body_too_large`",
          415: "`unsupported_media_type`, `unsupported_encoding`",
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/_central/stats",
      operationId: "getCentralStats",
      tags: ["Collector"],
      summary: "Totals over every edge, and the newest intervals",
      security,
      parameters: book.parameters("query", CentralStatsQuerySchema, {
        intervals: "How many interval starts to list",
      }),
      responses: {
        200: json("Totals", book.ref("CentralStats", CentralStatsSchema)),
        ...problems({ 400: "`validation_failed`", 401: unauthorized }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "get",
      path: "/_central/users/{id}",
      operationId: "getCentralUser",
      tags: ["Collector"],
      summary: "A user's totals over every edge",
      security,
      parameters: user,
      responses: {
        200: json("Totals by event type", book.ref("CentralUser", CentralUserSchema)),
        ...problems({ 400: "`validation_failed`: bad user id", 401: unauthorized }),
        default: DEFAULT_PROBLEM,
      },
    },
  ];
}

/** Operations under `/events` (when ingest runs here) and `/_central` (on a collector). */
export function analyticsOperations(ctx: DocContext): Operation[] {
  return [
    ...(ctx.eventLimits ? eventsOperations(ctx, ctx.eventLimits) : []),
    ...(ctx.collector ? centralOperations(ctx) : []),
  ];
}

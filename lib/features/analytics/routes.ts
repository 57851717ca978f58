/** `/events`: ingest, a user's recent events, local counts and the bandwidth report. */

import { type Handler, Hono } from "hono";
import { z } from "zod";
import type { AnalyticsEdge } from "./edge.ts";
import {
  type EventLimits,
  eventsBodySchema,
  UserIdSchema,
  validateEvents,
} from "./event_schema.ts";
import { type IngestRecord, InvalidCursorError, UnreadableIngestKeyError } from "./store.ts";
import type { AppEnv } from "../../core/request.ts";
import type { AdminCheck } from "../../platform/guard.ts";
import { HttpError, readTextLimited } from "../../platform/http/errors.ts";
import { jsonResponse } from "../../platform/http/respond.ts";
import { parseInput } from "../../platform/http/validate.ts";
import { sha256Hex } from "../../platform/hash.ts";
import {
  bytes,
  DEFAULT_PROBLEM,
  described,
  describedRoutes,
  json,
  named,
  OPERATOR_PROBLEMS,
  OPERATOR_SECURITY,
  problems,
  type RouteDoc,
} from "../../platform/http/route_doc.ts";

const NO_STORE = { "cache-control": "no-store" };
/** JSON, or text/plain as `navigator.sendBeacon` sends a string. */
const JSON_TYPE = /^(application\/([a-z0-9.+-]*\+)?json|text\/plain)\b/i;
const encoder = new TextEncoder();
/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): an sf-string, or the bare
 * characters most clients send; 1–255 visible ASCII characters.
 */
const IDEMPOTENCY_KEY = /^(?:"([\x21\x23-\x5b\x5d-\x7e]{1,255})"|([\x21\x23-\x7e]{1,255}))$/;

/** The idempotency key of a request, null without one; 400 when malformed. */
function idempotencyKey(req: Request): string | null {
  const raw = req.headers.get("idempotency-key");
  if (raw === null) return null;
  const m = IDEMPOTENCY_KEY.exec(raw.trim());
  if (m === null) {
    throw new HttpError(
      400,
      "Idempotency-Key must be 1-255 visible ASCII characters (optionally in double quotes)",
      { code: "invalid_idempotency_key" },
    );
  }
  return m[1] ?? m[2];
}

/** Identifies a request body (and its `partial` mode) for one idempotency key. */
function fingerprint(text: string, partial: boolean): Promise<string> {
  return sha256Hex(`${partial}\n${text}`, 16);
}

function disabled(app: Hono<AppEnv>, reason: string): Hono<AppEnv> {
  app.all("/events", () => {
    throw new HttpError(404, reason, { code: "analytics_disabled" });
  });
  app.all("/events/*", () => {
    throw new HttpError(404, reason, { code: "analytics_disabled" });
  });
  return app;
}

/** The query strings of `/events*` under the configured retention (also used by the API docs). */
export function eventsQuerySchemas(config: { retentionHours: number }) {
  const minutes = z.coerce.number().int().min(1).max(config.retentionHours * 60).default(60);
  return {
    UserQuery: z.object({
      minutes,
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      cursor: z.string().max(512).optional(),
    }),
    CountsQuery: z.object({ minutes }),
    PostQuery: z.object({ partial: z.enum(["true", "false", "1", "0"]).optional() }),
  };
}

function limitsText(limits: EventLimits, maxBodyBytes: number): string {
  const p = limits.properties;
  return `One event or \`{ "events": [...] }\` with 1 to ${limits.maxBatchEvents}, at most ` +
    `${bytes(maxBodyBytes)}. \`timestamp\` (default now): epoch ms or ISO 8601, at most ` +
    `${limits.maxFutureMs / 1000} s ahead and within the retention of ` +
    `${limits.retentionMs / 3_600_000} h. \`properties\`: a JSON object of at most ` +
    `${bytes(p.maxBytes)}, ${p.maxKeys} keys and ${p.maxDepth} levels. Without \`partial\`, ` +
    "one bad event refuses the whole batch.";
}

/**
 * The `/events` operations of this node, from the schemas its routes parse with (the answers'
 * schemas load with the document, not at start-up).
 */
async function eventsDocs(
  analytics: AnalyticsEdge,
  queries: ReturnType<typeof eventsQuerySchemas>,
): Promise<Record<"post" | "user" | "counts" | "bandwidth", RouteDoc>> {
  const { BandwidthSchema, EventCountsSchema, EventsAcceptedSchema, UserEventsSchema } =
    await import("./responses.ts");
  const { limits, config } = analytics;
  const { UserQuery, CountsQuery, PostQuery } = queries;
  const body = named("EventsRequest", eventsBodySchema(limits, () => analytics.clock.now()));
  const minutes = `Minutes back, up to the retention (${config.retentionHours} h)`;
  return {
    post: {
      operationId: "postEvents",
      tags: ["Analytics"],
      summary: "Record analytics events at this edge",
      description: limitsText(limits, config.maxBodyBytes),
      query: PostQuery,
      describe: { partial: "Store the valid events and report the others" },
      parameters: [{
        name: "Idempotency-Key",
        in: "header",
        required: false,
        description: "Makes retries safe: a batch sent again under the same key (within 24 h, " +
          "at this edge) is stored once and answered as the first time. 1-255 visible ASCII " +
          "characters, bare or quoted.",
        schema: { type: "string", minLength: 1, maxLength: 257 },
      }],
      requestBody: {
        required: true,
        description: "`text/plain` is accepted as `navigator.sendBeacon` sends it",
        content: { "application/json": body, "text/plain": body },
      },
      responses: {
        202: json(
          "Stored (or stored before, under the same Idempotency-Key)",
          named("EventsAccepted", EventsAcceptedSchema),
          {
            "Idempotent-Replayed": {
              description: "`true` when this answers a batch already stored under the key",
              schema: { type: "string", enum: ["true"] },
            },
          },
        ),
        ...problems({
          400: "`invalid_events` (with `errors`: index, path, message; nothing stored), " +
            "`invalid_json`, `validation_failed` (query), `invalid_idempotency_key`",
          405: "`method_not_allowed`: any method but POST",
          413: "`body_too_large`",
          415: "`unsupported_media_type`",
          422: "`idempotency_key_reused`: the key was used with another body",
          503: "`store_unavailable`: KV refused the write; retry",
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    user: {
      operationId: "getUserEvents",
      tags: ["Analytics"],
      summary: "A user's recent events at this edge, newest first",
      params: z.object({ id: UserIdSchema }),
      query: UserQuery,
      describe: { minutes, limit: "Events per page", cursor: "`next_cursor` of the previous page" },
      responses: {
        200: json("A page of events", named("UserEvents", UserEventsSchema)),
        ...problems({ 400: "`validation_failed`, `invalid_cursor`" }),
        default: DEFAULT_PROBLEM,
      },
    },
    counts: {
      operationId: "getEventCounts",
      tags: ["Analytics"],
      summary: "This edge's counts by event type over the last minutes",
      query: CountsQuery,
      describe: { minutes },
      responses: {
        200: json("Counts", named("EventCounts", EventCountsSchema)),
        ...problems({ 400: "`validation_failed`" }),
        default: DEFAULT_PROBLEM,
      },
    },
    bandwidth: {
      operationId: "getBandwidth",
      tags: ["Analytics"],
      summary: "Raw event bytes received against summary bytes sent",
      responses: {
        200: json("The report", named("Bandwidth", BandwidthSchema)),
        default: DEFAULT_PROBLEM,
      },
    },
  };
}

/** `POST /_edge/analytics/flush` under this node's flush period. */
async function flushDoc(analytics: AnalyticsEdge): Promise<RouteDoc> {
  const { FlushReportSchema } = await import("./responses.ts");
  return {
    operationId: "flushAnalytics",
    tags: ["Analytics"],
    summary: "Close the running interval and send every summary now (operators)",
    description: "Without it, events reach the collector after their interval ends " +
      `(\`analytics.flushSeconds\`: ${analytics.config.flushSeconds} s here) and the next ` +
      "flush. What cannot be delivered stays in the outbox for the flush job. Open in " +
      "development without `ADMIN_TOKEN`, closed (503) in production without it.",
    security: OPERATOR_SECURITY,
    responses: {
      200: json("What the flush did", named("FlushReport", FlushReportSchema)),
      ...problems({
        ...OPERATOR_PROBLEMS,
        503: "`admin_not_configured`: production without `ADMIN_TOKEN`; `store_unavailable`: " +
          "KV could not be read or written; retry",
      }),
      default: DEFAULT_PROBLEM,
    },
  };
}

/** Builds the `/events` routes; with `analytics` null they answer 404 (disabled here). */
export function eventsRoutes(analytics: AnalyticsEdge | null): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  if (analytics === null) return disabled(app, "Analytics ingest does not run on this node");
  const { limits, store, config } = analytics;
  const { UserQuery, CountsQuery, PostQuery } = eventsQuerySchemas(config);
  const api = describedRoutes(app);
  // Made when the document is built, from the schemas these routes parse with.
  const docs = () => eventsDocs(analytics, { UserQuery, CountsQuery, PostQuery });

  api.post("/events", async () => (await docs()).post, async (c) => {
    const req = c.req.raw;
    const query = parseInput(PostQuery, c.req.query(), "query");
    const partial = query.partial === "true" || query.partial === "1";
    const key = idempotencyKey(req);
    const type = req.headers.get("content-type") ?? "";
    if (type && !JSON_TYPE.test(type)) {
      throw new HttpError(
        415,
        `Expected application/json or text/plain, got: ${type.slice(0, 100)}`,
        {
          code: "unsupported_media_type",
        },
      );
    }
    const text = await readTextLimited(req, config.maxBodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      analytics.countReceived(encoder.encode(text).byteLength, 0);
      throw new HttpError(400, `Body is not valid JSON: ${(e as Error).message}`, {
        code: "invalid_json",
      });
    }
    const now = analytics.clock.now();
    const result = validateEvents(body, limits, () => now);
    const total = result.events.length +
      new Set(result.issues.filter((i) => i.index !== null).map((i) => i.index)).size;
    analytics.countReceived(encoder.encode(text).byteLength, total - result.events.length);
    const invalid = result.issues.length > 0;
    if (invalid && (!partial || result.events.length === 0)) {
      const first = result.issues[0];
      const where = first.index === null ? first.path : `events.${first.index}.${first.path}`;
      throw new HttpError(
        400,
        `Invalid events (nothing stored): ${where}: ${first.message}`,
        { code: "invalid_events", extensions: { errors: result.issues } },
      );
    }
    const events = result.events.map((e) => e.event);
    let earlier: IngestRecord | null = null;
    let print = "";
    try {
      if (key === null) await analytics.record(events, "api");
      else {
        print = await fingerprint(text, partial);
        earlier = await analytics.recordOnce(events, {
          key,
          fingerprint: print,
          accepted: events.length,
        });
      }
    } catch (error) {
      if (error instanceof UnreadableIngestKeyError) {
        throw new HttpError(422, "This Idempotency-Key was used by a request that cannot be read", {
          code: "idempotency_key_reused",
        });
      }
      throw new HttpError(503, "Events could not be stored; retry", {
        code: "store_unavailable",
        headers: { "retry-after": "1" },
        cause: error,
      });
    }
    if (earlier !== null && earlier.fingerprint !== print) {
      throw new HttpError(
        422,
        "This Idempotency-Key was already used with another request body; use a new key",
        { code: "idempotency_key_reused" },
      );
    }
    const answer: Record<string, unknown> = { accepted: earlier?.accepted ?? events.length };
    if (invalid) answer.rejected = result.issues;
    if (earlier === null) return jsonResponse(answer, 202, NO_STORE);
    // The same batch again: answered as the first time, and stored only once.
    return jsonResponse(answer, 202, { ...NO_STORE, "idempotent-replayed": "true" });
  });

  app.all("/events", (c) => {
    throw new HttpError(405, `Method not allowed on /events: ${c.req.method.slice(0, 20)}`, {
      code: "method_not_allowed",
      headers: { allow: "POST" },
    });
  });

  api.get("/events/users/:id", async () => (await docs()).user, async (c) => {
    const id = parseInput(UserIdSchema, c.req.param("id"), "user id");
    const q = parseInput(UserQuery, c.req.query(), "query");
    try {
      const page = await store.userEvents(id, q);
      return jsonResponse({ user_id: id, ...page }, 200, NO_STORE);
    } catch (error) {
      if (error instanceof InvalidCursorError) {
        throw new HttpError(400, "Invalid cursor: pass next_cursor as it was returned", {
          code: "invalid_cursor",
        });
      }
      throw error;
    }
  });

  api.get("/events/counts", async () => (await docs()).counts, async (c) => {
    const q = parseInput(CountsQuery, c.req.query(), "query");
    const counts = await store.counts(q.minutes);
    return jsonResponse(
      { edge_id: analytics.edgeId, minutes: q.minutes, ...counts },
      200,
      NO_STORE,
    );
  });

  api.get(
    "/events/bandwidth",
    async () => (await docs()).bandwidth,
    () => jsonResponse({ edge_id: analytics.edgeId, ...analytics.bandwidth() }, 200, NO_STORE),
  );

  app.all("/events/*", (c) => {
    throw new HttpError(404, `No route for ${c.req.method} ${c.req.path.slice(0, 200)}`, {
      code: "not_found",
    });
  });
  return app;
}

/**
 * `POST /_edge/analytics/flush` for operators: closes the running interval and sends every
 * summary now instead of at the next flush, so `/_central/stats` shows events at once.
 */
export function analyticsFlushHandler(
  analytics: AnalyticsEdge,
  admin: AdminCheck,
): Handler<AppEnv> {
  return described(() => flushDoc(analytics), async function analyticsFlush(c) {
    admin(c.req.raw);
    let report;
    try {
      report = await analytics.flushNow();
    } catch (error) {
      throw new HttpError(503, "The flush could not read or write the KV store; retry", {
        code: "store_unavailable",
        headers: { "retry-after": "1" },
        cause: error,
      });
    }
    return jsonResponse(report, 200, NO_STORE);
  });
}

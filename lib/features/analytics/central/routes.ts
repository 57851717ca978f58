/** `/_central/*`: the collector's API, behind the shared `CENTRAL_TOKEN`. */

import { Hono } from "hono";
import { z } from "zod";
import { readSummaryBody } from "./body.ts";
import { type CentralCollector, IDEMPOTENCY_KEY } from "./collector.ts";
import { SharedSecret } from "../../../platform/http/secret.ts";
import { UserIdSchema } from "../event_schema.ts";
import { SummarySchema } from "../summary.ts";
import type { AppEnv } from "../../../core/request.ts";
import { HttpError } from "../../../platform/http/errors.ts";
import { jsonResponse } from "../../../platform/http/respond.ts";
import { parseInput } from "../../../platform/http/validate.ts";
import type { MetricsRegistry } from "../../../core/metrics.ts";
import {
  DEFAULT_PROBLEM,
  describedRoutes,
  json,
  type MiddlewareDoc,
  named,
  problems,
  type RouteDoc,
} from "../../../platform/http/route_doc.ts";

const NO_STORE = { "cache-control": "no-store" };
const LIMITS = { maxCompressedBytes: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 };
/** The query of `GET /_central/stats`. */
export const CentralStatsQuerySchema = z.object({
  intervals: z.coerce.number().int().min(0).max(500).default(20),
});

/** The collector's token check, for every operation under `/_central`. */
const CENTRAL_AUTH_DOC: MiddlewareDoc = {
  security: [{ collectorToken: [] }],
  responses: problems({
    401: "`unauthorized`: no or wrong `CENTRAL_TOKEN`",
    503: "`central_not_configured`: `CENTRAL_TOKEN` is not set",
  }),
};

// The answers' schemas load with the document (`../responses.ts`), not at start-up.
async function summaryDoc(): Promise<RouteDoc> {
  const { SummaryAppliedSchema } = await import("../responses.ts");
  return {
    operationId: "postSummary",
    tags: ["Collector"],
    summary: "Apply an edge's interval summary (idempotent by key)",
    description: "Counts must add up to `total_events`. A key already applied changes nothing " +
      "(`status: duplicate`). At most 8 MiB compressed, 32 MiB inflated.",
    parameters: [
      {
        name: "Idempotency-Key",
        in: "header",
        required: true,
        description: "Names the summary; repeats are answered `duplicate`",
        schema: z.string().regex(IDEMPOTENCY_KEY),
      },
      {
        name: "Content-Encoding",
        in: "header",
        required: false,
        schema: { enum: ["identity", "gzip"] },
      },
    ],
    requestBody: {
      required: true,
      content: { "application/json": named("Summary", SummarySchema) },
    },
    responses: {
      200: json("Applied or duplicate", named("SummaryApplied", SummaryAppliedSchema)),
      ...problems({
        400: "`idempotency_key_required`, `validation_failed` (with `errors`), `invalid_json`, " +
          "`invalid_gzip`",
        413: "`body_too_large`",
        415: "`unsupported_media_type`, `unsupported_encoding`",
      }),
      default: DEFAULT_PROBLEM,
    },
  };
}

async function statsDoc(): Promise<RouteDoc> {
  const { CentralStatsSchema } = await import("../responses.ts");
  return {
    operationId: "getCentralStats",
    tags: ["Collector"],
    summary: "Totals over every edge, and the newest intervals",
    query: CentralStatsQuerySchema,
    describe: { intervals: "How many interval starts to list" },
    responses: {
      200: json("Totals", named("CentralStats", CentralStatsSchema)),
      ...problems({ 400: "`validation_failed`" }),
      default: DEFAULT_PROBLEM,
    },
  };
}

async function userDoc(): Promise<RouteDoc> {
  const { CentralUserSchema } = await import("../responses.ts");
  return {
    operationId: "getCentralUser",
    tags: ["Collector"],
    summary: "A user's totals over every edge",
    params: z.object({ id: UserIdSchema }),
    responses: {
      200: json("Totals by event type", named("CentralUser", CentralUserSchema)),
      ...problems({ 400: "`validation_failed`: bad user id" }),
      default: DEFAULT_PROBLEM,
    },
  };
}

/** What the collector routes need. */
export interface CentralRoutesOptions {
  collector: CentralCollector;
  /** The collector's token; null (CENTRAL_TOKEN unset) closes every path with 503. */
  token: string | null;
  metrics: MetricsRegistry;
}

/** Builds `/_central/*`; with `options` null every path answers 404 (not a collector). */
export function centralRoutes(options: CentralRoutesOptions | null): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  if (options === null) {
    app.all("/_central/*", () => {
      throw new HttpError(404, "This node does not run the central collector (role edge)", {
        code: "not_a_collector",
      });
    });
    return app;
  }
  const { collector, token, metrics } = options;
  const api = describedRoutes(app);
  const secret = token === null ? null : new SharedSecret(token);
  const summaries = metrics.counter(
    "outpost_central_summaries_total",
    "Summaries received by the collector, by status (applied, duplicate, rejected)",
  );
  const events = metrics.counter(
    "outpost_central_events_total",
    "Events applied to central totals",
  );

  api.use("/_central/*", CENTRAL_AUTH_DOC, async function centralAuth(c, next) {
    if (secret === null) {
      throw new HttpError(503, "The collector is not configured: set CENTRAL_TOKEN", {
        code: "central_not_configured",
      });
    }
    if (!secret.matchesBearer(c.req.header("authorization"))) {
      throw new HttpError(401, "A valid bearer token (CENTRAL_TOKEN) is required", {
        code: "unauthorized",
        headers: { "www-authenticate": 'Bearer realm="outpost-central"' },
      });
    }
    await next();
  });

  api.post("/_central/summary", summaryDoc, async (c) => {
    const key = c.req.header("idempotency-key");
    if (key === undefined || !IDEMPOTENCY_KEY.test(key)) {
      summaries.inc({ status: "rejected" });
      throw new HttpError(400, "An Idempotency-Key header (1-200 of A-Za-z0-9._:/-) is required", {
        code: "idempotency_key_required",
      });
    }
    let summary;
    try {
      summary = parseInput(SummarySchema, await readSummaryBody(c.req.raw, LIMITS), "summary");
    } catch (error) {
      summaries.inc({ status: "rejected" });
      throw error;
    }
    const result = await collector.apply(summary, key);
    summaries.inc({ status: result.status });
    if (result.status === "applied") events.inc(undefined, result.total_events);
    return jsonResponse({ ...result, idempotency_key: key }, 200, NO_STORE);
  });

  api.get("/_central/stats", statsDoc, async (c) => {
    const q = parseInput(CentralStatsQuerySchema, c.req.query(), "query");
    return jsonResponse(await collector.stats(q.intervals), 200, NO_STORE);
  });

  api.get("/_central/users/:id", userDoc, async (c) => {
    const id = parseInput(UserIdSchema, c.req.param("id"), "user id");
    const byType = await collector.userStats(id);
    let total = 0;
    for (const n of Object.values(byType)) total += n;
    return jsonResponse({ user_id: id, total_events: total, by_event_type: byType }, 200, NO_STORE);
  });

  app.all("/_central/*", (c) => {
    throw new HttpError(404, `No route for ${c.req.method} ${c.req.path.slice(0, 200)}`, {
      code: "not_found",
    });
  });
  return app;
}

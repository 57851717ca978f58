/**
 * The operator endpoints under `/_edge/*`: Prometheus metrics, global stats and the dashboard.
 * Metrics and stats need the admin token when one is configured (and are closed in production
 * without one); the dashboard's page, script and stylesheet are public and hold no data.
 */

import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../../core/request.ts";
import { RegionNameSchema } from "../../platform/config/schemas.ts";
import { jsonResponse } from "../../platform/http/respond.ts";
import { parseInput } from "../../platform/http/validate.ts";
import type { AdminCheck } from "../../platform/guard.ts";
import {
  DEFAULT_PROBLEM,
  describedRoutes,
  json,
  named,
  OPERATOR_PROBLEMS,
  OPERATOR_SECURITY,
  problems,
  type RouteDoc,
  text as textAnswer,
} from "../../platform/http/route_doc.ts";
import { dashboardHtml } from "./dashboard/page.ts";
import type { Monitor } from "./monitor.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";

/** The dashboard's built script and stylesheet (65 KB of JSON), loaded when first asked for. */
interface DashboardBundle {
  hash: string;
  js: string;
  css: string;
}

let bundleLoad: Promise<DashboardBundle> | null = null;

function dashboardBundle(): Promise<DashboardBundle> {
  bundleLoad ??= import("./dashboard/bundle.json", { with: { type: "json" } })
    .then((mod) => mod.default as DashboardBundle, (error) => {
      bundleLoad = null; // the next request tries again; this one answers 500 (logged)
      throw error;
    });
  return bundleLoad;
}

/** What the monitoring routes need. */
export interface MonitoringRoutesOptions {
  monitor: Monitor;
  region: string;
  /** The operator guard (`ADMIN_TOKEN`), shared by every operator endpoint. */
  admin: AdminCheck;
}

/** The query of `GET /_edge/stats` (other parameters are ignored). */
export const StatsQuerySchema = z.object({
  /** Only this region's edges. */
  region: RegionNameSchema.optional(),
});

const METRICS_DOC: RouteDoc = {
  operationId: "getMetrics",
  tags: ["Monitoring"],
  summary: "Prometheus metrics of this node",
  description: "Text exposition format 0.0.4: counters, gauges and latency histograms " +
    "(`_bucket`/`_sum`/`_count`) labelled by `region`, `route` and `cache`.",
  security: OPERATOR_SECURITY,
  responses: {
    200: textAnswer("The metrics", PROMETHEUS_CONTENT_TYPE),
    ...problems(OPERATOR_PROBLEMS),
    default: DEFAULT_PROBLEM,
  },
};

// The answer's schema loads with the document (`./responses.ts`), not at start-up.
async function statsDoc(): Promise<RouteDoc> {
  const { GlobalStatsSchema } = await import("./responses.ts");
  return {
    operationId: "getStats",
    tags: ["Monitoring"],
    summary: "Global statistics: every live node's snapshot merged",
    description: "Percentiles come from merged histograms. Unknown query parameters are ignored.",
    security: OPERATOR_SECURITY,
    query: StatsQuerySchema,
    describe: { region: "Only this region's edges" },
    responses: {
      200: json("Merged statistics", named("GlobalStats", GlobalStatsSchema)),
      ...problems({
        400: "`validation_failed`: malformed `region`",
        ...OPERATOR_PROBLEMS,
        503: "`admin_not_configured`: production without `ADMIN_TOKEN`; `stats_unavailable`: " +
          "KV cannot be read",
      }),
      default: DEFAULT_PROBLEM,
    },
  };
}

const DASHBOARD_DOC: RouteDoc = {
  operationId: "getDashboard",
  tags: ["Monitoring"],
  summary: "The operator dashboard (HTML, public; it holds no data)",
  description: "Charts of every region from `/_edge/stats`, whose history it backfills on " +
    "load. Where the node needs the admin token the page asks for it in a sign-in form, keeps " +
    "it in the tab's session storage and sends it as a bearer header, never in a URL.",
  parameters: [{
    name: "interval_ms",
    in: "query",
    required: false,
    description: "Refresh period, read by the page's script",
    schema: { type: "integer", minimum: 1000, default: 5000 },
  }],
  responses: {
    200: textAnswer("The page", "text/html; charset=utf-8"),
    default: DEFAULT_PROBLEM,
  },
};

const DASHBOARD_SCRIPT_DOC: RouteDoc = {
  operationId: "getDashboardScript",
  tags: ["Monitoring"],
  summary: "The dashboard's script (public, immutable)",
  responses: { 200: textAnswer("The bundle", "text/javascript; charset=utf-8") },
};

const DASHBOARD_STYLES_DOC: RouteDoc = {
  operationId: "getDashboardStyles",
  tags: ["Monitoring"],
  summary: "The dashboard's stylesheet (public, immutable)",
  responses: { 200: textAnswer("The stylesheet", "text/css; charset=utf-8") },
};

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function text(body: string, type: string, headers: Record<string, string>): Response {
  const res = new Response(body);
  res.headers.set("content-type", type);
  for (const name in headers) res.headers.set(name, headers[name]);
  return res;
}

/** Adds `/metrics`, `/stats`, `/dashboard` and its assets to the `/_edge` app. */
export function monitoringRoutes(app: Hono<AppEnv>, options: MonitoringRoutesOptions): void {
  const { monitor } = options;
  const admin = options.admin;
  const api = describedRoutes(app);
  const noStore = { "cache-control": "no-store" };
  const asset = (bundle: DashboardBundle) => ({
    "cache-control": "public, max-age=31536000, immutable",
    etag: `"${bundle.hash}"`,
    "x-content-type-options": "nosniff",
  });

  api.get("/metrics", METRICS_DOC, (c) => {
    admin(c.req.raw);
    return text(monitor.prometheus(), PROMETHEUS_CONTENT_TYPE, noStore);
  });

  api.get("/stats", statsDoc, async (c) => {
    admin(c.req.raw);
    const query = parseInput(StatsQuerySchema, c.req.query(), "query");
    return jsonResponse(await monitor.stats(query), 200, noStore);
  });

  // The page is public: it holds no data, and signs in itself to read `/stats` with a bearer
  // header, so the token never has to travel in a URL.
  api.get("/dashboard", DASHBOARD_DOC, async () => {
    const bundle = await dashboardBundle();
    return text(dashboardHtml(options.region, bundle.hash), "text/html; charset=utf-8", {
      ...noStore,
      "content-security-policy": CSP,
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
    });
  });

  api.get("/dashboard/app.js", DASHBOARD_SCRIPT_DOC, async () => {
    const bundle = await dashboardBundle();
    return text(bundle.js, "text/javascript; charset=utf-8", asset(bundle));
  });
  api.get("/dashboard/app.css", DASHBOARD_STYLES_DOC, async () => {
    const bundle = await dashboardBundle();
    return text(bundle.css, "text/css; charset=utf-8", asset(bundle));
  });
}

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
  const noStore = { "cache-control": "no-store" };
  const asset = (bundle: DashboardBundle) => ({
    "cache-control": "public, max-age=31536000, immutable",
    etag: `"${bundle.hash}"`,
    "x-content-type-options": "nosniff",
  });

  app.get("/metrics", (c) => {
    admin(c.req.raw);
    return text(monitor.prometheus(), PROMETHEUS_CONTENT_TYPE, noStore);
  });

  app.get("/stats", async (c) => {
    admin(c.req.raw);
    const query = parseInput(StatsQuerySchema, c.req.query(), "query");
    return jsonResponse(await monitor.stats(query), 200, noStore);
  });

  // The page is public: it holds no data, and signs in itself to read `/stats` with a bearer
  // header, so the token never has to travel in a URL.
  app.get("/dashboard", async () => {
    const bundle = await dashboardBundle();
    return text(dashboardHtml(options.region, bundle.hash), "text/html; charset=utf-8", {
      ...noStore,
      "content-security-policy": CSP,
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
    });
  });

  app.get("/dashboard/app.js", async () => {
    const bundle = await dashboardBundle();
    return text(bundle.js, "text/javascript; charset=utf-8", asset(bundle));
  });
  app.get("/dashboard/app.css", async () => {
    const bundle = await dashboardBundle();
    return text(bundle.css, "text/css; charset=utf-8", asset(bundle));
  });
}

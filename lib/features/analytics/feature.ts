/**
 * The analytics feature: events at the edge (`/events*`), the collector (`/_central/*`),
 * automatic tracking as the stage after authorization, summaries sent to the collector, and the
 * operator's flush (`POST /_edge/analytics/flush`).
 */

import { Hono } from "hono";
import type { Feature, MissingSecret } from "../../core/feature.ts";
import type { AppEnv } from "../../core/request.ts";
import { ANALYTICS_CONFIG, type ANALYTICS_FIELDS } from "./config.ts";
import { analyticsFlushHandler } from "./routes.ts";
import { type Analytics, centralTokenOf, createAnalytics } from "./wiring.ts";

declare module "../../core/feature.ts" {
  interface FeatureApis {
    analytics: Analytics;
  }
}

/** The feature's registration. */
export const analyticsFeature: Feature<"analytics", typeof ANALYTICS_FIELDS> = {
  name: "analytics",
  config: ANALYTICS_CONFIG,
  create(svc, cfg) {
    const { config } = svc;
    const analytics = createAnalytics({
      config,
      kv: svc.kv,
      clock: svc.clock,
      log: svc.log,
      metrics: svc.metrics,
      jobs: svc.jobs,
      selfFetch: (req) => svc.self(req),
    });
    const { tracking, edge } = analytics;
    let edgeRoutes: Hono<AppEnv> | undefined;
    if (edge) {
      const { admin } = svc.use("monitoring")!;
      edgeRoutes = new Hono<AppEnv>().basePath("/_edge");
      edgeRoutes.post("/analytics/flush", analyticsFlushHandler(edge, admin));
    }
    const missingSecrets: MissingSecret[] = [];
    if (centralTokenOf(config) === null) {
      const parts = [
        cfg.role !== "edge" ? "the collector (/_central)" : null,
        cfg.role !== "central" && cfg.analytics.enabled ? "summary delivery" : null,
      ].filter(Boolean);
      missingSecrets.push({
        name: "CENTRAL_TOKEN",
        disables: parts.join(" and ") || "the collector",
      });
    }
    return {
      api: analytics,
      routes: analytics.routes,
      edgeRoutes,
      stages: tracking ? [{ phase: "track", handler: tracking }] : [],
      // A tracked path is recorded by the stage, so it never takes the fast path.
      fastPath: tracking ? { veto: (_method, path) => analytics.tracks(path) } : undefined,
      missingSecrets,
      close: async () => {
        await edge?.close();
      },
    };
  },
};

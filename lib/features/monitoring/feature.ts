/**
 * The monitoring feature: every request recorded (metrics, the sliding window, the request log),
 * health and its answer before routing, snapshots for cluster stats, alerts, and the operator
 * endpoints under `/_edge` behind the one admin guard.
 */

import type { Feature } from "../../core/feature.ts";
import { type AdminCheck, adminGuard } from "../../platform/guard.ts";
import { pathIs } from "../../platform/http/url_path.ts";
import { MONITORING_CONFIG, type MONITORING_FIELDS } from "./config.ts";
import { edgeRoutes, type EdgeRoutesOptions, healthResponder } from "./health_route.ts";
import { Monitor } from "./monitor.ts";

/** What monitoring offers later features. */
export interface Monitoring {
  monitor: Monitor;
  /** The one guard of every operator endpoint, from the validated `ADMIN_TOKEN`. */
  admin: AdminCheck;
}

declare module "../../core/feature.ts" {
  interface FeatureApis {
    monitoring: Monitoring;
  }
}

/** The feature's registration. */
export const monitoringFeature: Feature<"monitoring", typeof MONITORING_FIELDS> = {
  name: "monitoring",
  config: MONITORING_CONFIG,
  create(svc, cfg) {
    const { config } = svc;
    const proxy = svc.use("proxy")!;
    const geo = svc.use("geo")!;
    const platform = svc.use("deploy")!;
    const monitor = new Monitor({
      config,
      kv: svc.kv,
      clock: svc.clock,
      log: svc.log,
      metrics: svc.metrics,
      jobs: svc.jobs,
      fetch: svc.fetch,
      startedAt: svc.startedAt,
      conditions: svc.conditions,
      nodeId: svc.nodeId,
    });
    const admin = adminGuard({ token: cfg.metrics.adminToken, mode: config.mode });
    const originNames: Record<string, string> = {};
    for (const r of config.regions) {
      originNames[r.origin] = originNames[r.origin] ? `${originNames[r.origin]},${r.name}` : r.name;
    }
    const options: EdgeRoutesOptions = {
      originNames,
      monitor,
      admin,
      region: config.region,
      clock: svc.clock,
      startedAt: svc.startedAt,
      health: proxy.health,
      jobs: svc.jobs,
      ipDatabase: geo.ipDatabase,
      notes: platform.notes,
      platform: () => platform.identity(),
    };
    // Load balancers poll health: `GET` is answered before routing, other methods by the router.
    const answerHealth = healthResponder(options);
    return {
      api: { monitor, admin },
      edgeRoutes: edgeRoutes(options, answerHealth),
      fastPath: {
        serve: (req, ctx) =>
          req.method === "GET" && pathIs(ctx.target.path, 0, "/_edge/health")
            ? answerHealth(req)
            : null,
      },
      finish: { record: (req, status, ctx) => monitor.finish(req, status, ctx) },
      missingSecrets: config.mode === "production" && cfg.metrics.adminToken === undefined
        ? [{
          name: "ADMIN_TOKEN",
          disables: "operator endpoints (metrics, stats, purge, analytics flush)",
        }]
        : [],
      close: () => monitor.close(),
    };
  },
};

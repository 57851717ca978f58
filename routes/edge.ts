/** The edge's own endpoints under `/_edge/*`. */

import { Hono } from "hono";
import type { AppEnv } from "../lib/app_env.ts";
import type { Clock } from "../lib/clock.ts";
import type { Jobs } from "../lib/jobs.ts";
import type { IpDatabaseState } from "../lib/geo/ipdb.ts";
import type { OriginHealth } from "../lib/proxy/breaker.ts";
import { jsonResponse } from "../lib/http/respond.ts";
import type { Monitor } from "../lib/metrics/monitor.ts";
import { monitoringRoutes } from "./monitoring.ts";

const NO_STORE = { "cache-control": "no-store" };

/** What the edge routes read. */
export interface EdgeRoutesOptions {
  monitor: Monitor;
  mode: "development" | "production";
  /** Bearer token for the operator endpoints (dashboard, stats, metrics). */
  adminToken?: string;
  region: string;
  clock: Clock;
  startedAt: number;
  health: OriginHealth;
  jobs: Jobs;
  /** The IP database's state, for the verbose health answer. */
  ipDatabase: () => IpDatabaseState;
}

/** Builds the `/_edge/*` app (unknown paths fall to the app's 404 problem handler). */
export function edgeRoutes(options: EdgeRoutesOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>().basePath("/_edge");

  app.get("/whereami", (c) => {
    const { geo, clientIp } = c.env.ctx;
    return jsonResponse(
      {
        source: geo.source,
        country: geo.country,
        lat: geo.lat,
        lon: geo.lon,
        nearestRegion: geo.nearestRegion,
        distanceKm: geo.distanceKm === null ? null : Math.round(geo.distanceKm * 10) / 10,
        clientIp,
        servedBy: options.region,
      },
      200,
      NO_STORE,
    );
  });

  // One synchronous handler: this route measures the node's own overhead (bench/load). The
  // default answer stays small (Deno.serve writes responses under ~512 bytes in one syscall);
  // `?verbose=1` adds thresholds, percentiles, every breaker and job.
  app.get("/health", (c) => {
    const h = options.monitor.health();
    const s = h.summary;
    const body: Record<string, unknown> = {
      status: h.status,
      region: options.region,
      node_id: options.monitor.nodeId,
      uptime_s: Math.round((options.clock.now() - options.startedAt) / 1000),
      error_rate: s.error_rate,
      p99_ms: s.p99_ms,
      requests: s.requests,
      reasons: h.reasons,
    };
    const verbose = c.req.url.includes("verbose=") && c.req.query("verbose") !== "0";
    const origins = options.health.snapshot();
    const jobs = options.jobs.summary();
    if (verbose) {
      Object.assign(body, {
        p50_ms: s.p50_ms,
        p95_ms: s.p95_ms,
        window_s: s.window_s,
        thresholds: {
          error_rate: h.thresholds.maxErrorRate,
          p99_ms: h.thresholds.maxP99Ms,
          min_requests: h.thresholds.minRequests,
        },
        insufficient_data: h.insufficient_data,
        monitoring: h.monitoring,
        origins,
        ip_database: options.ipDatabase(),
        jobs,
      });
    } else {
      // Only what needs attention: monitoring off, breakers not closed, jobs failing.
      if (h.monitoring === "off") body.monitoring = "off";
      const troubled = Object.entries(origins).filter(([, o]) => o.state !== "closed");
      if (troubled.length > 0) body.origins = Object.fromEntries(troubled);
      if (Object.keys(jobs.failing).length > 0) body.jobs = jobs;
    }
    return jsonResponse(body, h.status === "ok" ? 200 : 503, NO_STORE);
  });

  monitoringRoutes(app, options);

  return app;
}

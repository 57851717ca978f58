/** The edge's own endpoints under `/_edge/*`. */

import { Hono } from "hono";
import type { AppEnv } from "../lib/app_env.ts";
import type { Clock } from "../lib/clock.ts";
import type { Jobs } from "../lib/jobs.ts";
import type { IpDatabaseState } from "../lib/geo/ipdb.ts";
import type { OriginHealth } from "../lib/proxy/breaker.ts";
import { jsonResponse, jsonTextResponse } from "../lib/http/respond.ts";
import type { AdminCheck } from "../lib/metrics/admin.ts";
import type { Monitor } from "../lib/metrics/monitor.ts";
import { monitoringRoutes } from "./monitoring.ts";

const NO_STORE = { "cache-control": "no-store" };

/** What the edge routes read. */
export interface EdgeRoutesOptions {
  monitor: Monitor;
  /** The operator guard (`ADMIN_TOKEN`) for the dashboard, stats and metrics. */
  admin: AdminCheck;
  region: string;
  clock: Clock;
  startedAt: number;
  health: OriginHealth;
  jobs: Jobs;
  /** The IP database's state, for the verbose health answer. */
  ipDatabase: () => IpDatabaseState;
  /**
   * Secrets this node lacks, each with what it disables: the node serves, fails those parts
   * closed, and health says `degraded` with a reason per secret whatever the traffic.
   */
  missingSecrets?: readonly MissingSecret[];
}

/** A secret the node runs without, and what answers 503 because of it. */
export interface MissingSecret {
  name: string;
  disables: string;
}

/**
 * The answer of `/_edge/health` for a request URL, synchronous and cheap: load balancers poll
 * it, and it measures the node's own overhead (bench/load). The default answer stays small
 * (Deno.serve writes a response under ~512 bytes in one syscall) and its JSON is reused while
 * nothing in it changed; `?verbose=1` adds thresholds, percentiles, every breaker and job.
 */
export function healthResponder(options: EdgeRoutesOptions): (url: string) => Response {
  let memo: { summary: object; uptime: number; status: string; text: string } | null = null;
  return (url) => {
    const h = options.monitor.health();
    const s = h.summary;
    const missing = options.missingSecrets ?? [];
    const status = h.status === "ok" && missing.length > 0 ? "degraded" : h.status;
    const uptime = Math.round((options.clock.now() - options.startedAt) / 1000);
    const httpStatus = h.status === "ok" ? 200 : 503;
    const verbose = url.includes("verbose=") && new URL(url).searchParams.get("verbose") !== "0";
    const origins = options.health.snapshot();
    const jobs = options.jobs.summary();
    const troubled = Object.entries(origins).filter(([, o]) => o.state !== "closed");
    const quiet = !verbose && h.monitoring === "on" && troubled.length === 0 &&
      Object.keys(jobs.failing).length === 0;
    if (quiet && memo?.summary === s && memo.uptime === uptime && memo.status === status) {
      return jsonTextResponse(memo.text, httpStatus, NO_STORE);
    }
    const body: Record<string, unknown> = {
      status,
      region: options.region,
      node_id: options.monitor.nodeId,
      uptime_s: uptime,
      error_rate: s.error_rate,
      p99_ms: s.p99_ms,
      requests: s.requests,
      reasons: missing.length === 0
        ? h.reasons
        : [...h.reasons, ...missing.map((m) => `${m.name} is not set: ${m.disables} answer 503`)],
    };
    if (verbose) {
      Object.assign(body, {
        p50_ms: s.p50_ms,
        p95_ms: s.p95_ms,
        window_s: s.window_s,
        thresholds: {
          error_rate: h.thresholds.maxErrorRate,
          p99_ms: h.thresholds.maxP99Ms,
          min_requests: h.thresholds.minRequests,
          latency: h.thresholds.latency ?? "total",
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
      if (troubled.length > 0) body.origins = Object.fromEntries(troubled);
      if (Object.keys(jobs.failing).length > 0) body.jobs = jobs;
    }
    const text = JSON.stringify(body);
    if (quiet) memo = { summary: s, uptime, status, text };
    return jsonTextResponse(text, httpStatus, NO_STORE);
  };
}

/**
 * Builds the `/_edge/*` app (unknown paths fall to the app's 404 problem handler). `health` is
 * the app's own responder when it also answers health before routing.
 */
export function edgeRoutes(
  options: EdgeRoutesOptions,
  health: (url: string) => Response = healthResponder(options),
): Hono<AppEnv> {
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

  // `GET /_edge/health` is also answered before routing (lib/app.ts); HEAD and anything else
  // that reaches the router gets the same answer here.
  app.get("/health", (c) => health(c.req.url));

  monitoringRoutes(app, options);

  return app;
}

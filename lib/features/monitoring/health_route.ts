/** The edge's own endpoints under `/_edge/*`. */

import { Hono } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { Clock } from "../../core/clock.ts";
import type { Jobs } from "../../core/jobs.ts";
import type { IpDatabaseState } from "../geo/ipdb.ts";
import type { OriginHealth, OriginHealthSnapshot } from "../proxy/breaker.ts";
import { HttpError, PROBLEM_CONTENT_TYPE, problemResponse } from "../../platform/http/errors.ts";
import { jsonResponse, jsonTextResponse } from "../../platform/http/respond.ts";
import type { AdminCheck } from "../../platform/guard.ts";
import {
  DEFAULT_PROBLEM,
  describedRoutes,
  json,
  named,
  OPERATOR_PROBLEMS,
  OPERATOR_SECURITY,
  PROBLEM_REF,
  problems,
  type RouteDoc,
} from "../../platform/http/route_doc.ts";
import type { Monitor } from "./monitor.ts";
import { monitoringRoutes } from "./routes.ts";

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
  /** The region names each origin URL serves (public health names origins by them). */
  originNames: Readonly<Record<string, string>>;
  /** What the node does not know about itself (e.g. its region), in words, for public health. */
  notes?: readonly string[];
  /** Where the node runs (platform, deployment, KV), for verbose health. */
  platform?: () => Record<string, unknown>;
}

/**
 * The answer of `/_edge/health` for a request URL, synchronous and cheap: load balancers poll
 * it, and it measures the node's own overhead (bench/load). 200 when `ok` or `degraded`, 503
 * when `unhealthy`. The default answer stays small (Deno.serve writes a response under ~512
 * bytes in one syscall) and its JSON is reused while nothing in it changed; `?verbose=1` adds
 * thresholds, percentiles, every breaker, condition and job.
 */
export function healthResponder(options: EdgeRoutesOptions): (req: Request) => Response {
  let memo: { summary: object; uptime: number; status: string; text: string } | null = null;
  return (req) => {
    const url = req.url;
    const h = options.monitor.health();
    const s = h.summary;
    const status = h.status;
    const uptime = Math.round((options.clock.now() - options.startedAt) / 1000);
    const httpStatus = h.status === "unhealthy" ? 503 : 200;
    const verbose = url.includes("verbose=") && new URL(url).searchParams.get("verbose") !== "0";
    // The details (origin addresses, last errors) are for operators; load balancers need none.
    if (verbose) {
      try {
        options.admin(req);
      } catch (error) {
        if (error instanceof HttpError) return problemResponse(error);
        throw error;
      }
    }
    const jobs = options.jobs.summary();
    const troubled = options.health.troubled();
    const quiet = !verbose && h.monitoring === "on" && !troubled && h.conditions.length === 0 &&
      Object.keys(jobs.failing).length === 0;
    if (quiet && memo?.summary === s && memo.uptime === uptime && memo.status === status) {
      return jsonTextResponse(memo.text, httpStatus, NO_STORE);
    }
    const body: Record<string, unknown> = {
      status,
      region: options.region,
      node_id: options.monitor.nodeId,
      uptime_s: uptime,
      edge_error_rate: s.edge_error_rate,
      origin_error_rate: s.origin_error_rate,
      p99_ms: s.p99_ms,
      requests: s.requests,
      reasons: h.reasons,
    };
    if (options.notes && options.notes.length > 0) body.notes = options.notes;
    if (verbose || h.conditions.length > 0) {
      body.conditions = Object.fromEntries(h.conditions.map((c) => [c.name, c.level]));
    }
    if (verbose) {
      Object.assign(body, {
        error_rate: s.error_rate,
        p50_ms: s.p50_ms,
        p95_ms: s.p95_ms,
        window_s: s.window_s,
        thresholds: {
          error_rate: h.thresholds.maxErrorRate,
          p99_ms: h.thresholds.maxP99Ms,
          min_requests: h.thresholds.minRequests,
          latency: h.thresholds.latency ?? "total",
          count_origin_errors: h.thresholds.countOriginErrors ?? false,
        },
        insufficient_data: h.insufficient_data,
        monitoring: h.monitoring,
        origins: options.health.snapshot(),
        ip_database: options.ipDatabase(),
        jobs,
        ...(options.platform ? { platform: options.platform() } : {}),
      });
    } else {
      // Only what needs attention: monitoring off, breakers not closed, jobs failing.
      if (h.monitoring === "off") body.monitoring = "off";
      if (troubled) body.origins = troubledOrigins(options.health, options.originNames);
      if (Object.keys(jobs.failing).length > 0) body.jobs = failingJobs(jobs.failing);
    }
    const text = JSON.stringify(body);
    if (quiet) memo = { summary: s, uptime, status, text };
    return jsonTextResponse(text, httpStatus, NO_STORE);
  };
}

/** A circuit's public state: no address, no error text (those are in `?verbose=1`). */
interface PublicCircuit {
  state: OriginHealthSnapshot["state"];
  consecutiveFailures: number;
  retryAt: number | null;
  paths?: Record<string, PublicCircuit>;
}

function publicCircuit(c: OriginHealthSnapshot): PublicCircuit {
  return { state: c.state, consecutiveFailures: c.consecutiveFailures, retryAt: c.retryAt };
}

/**
 * Origins with a circuit not closed, named by the regions they serve: the origin's own state, and
 * only its groups not closed.
 */
function troubledOrigins(
  health: OriginHealth,
  names: Readonly<Record<string, string>>,
): Record<string, PublicCircuit> {
  const out: Record<string, PublicCircuit> = {};
  for (const [origin, o] of Object.entries(health.snapshot())) {
    const paths = Object.entries(o.paths ?? {}).filter(([, p]) => p.state !== "closed");
    if (o.state === "closed" && paths.length === 0) continue;
    const own = publicCircuit(o);
    if (paths.length > 0) {
      own.paths = Object.fromEntries(paths.map(([group, p]) => [group, publicCircuit(p)]));
    }
    out[names[origin] ?? "origin"] = own;
  }
  return out;
}

/** Failing jobs by name and count (their last errors may name internal hosts: verbose only). */
function failingJobs(
  failing: Record<string, { consecutive_failures: number }>,
): { failing: Record<string, number> } {
  return {
    failing: Object.fromEntries(
      Object.entries(failing).map(([name, j]) => [name, j.consecutive_failures]),
    ),
  };
}

// The answers' schemas load with the document (`./responses.ts`), not at start-up.
async function whereamiDoc(): Promise<RouteDoc> {
  const { WhereAmISchema } = await import("./responses.ts");
  return {
    operationId: "getWhereAmI",
    tags: ["Node"],
    summary: "Where the edge thinks the caller is",
    description: "Location from trusted proxy headers, the IP database or the default, and the " +
      "nearest region.",
    responses: {
      200: json("The caller's location", named("WhereAmI", WhereAmISchema)),
      default: DEFAULT_PROBLEM,
    },
  };
}

/** `GET /_edge/health` under this node's thresholds. */
async function healthDoc(options: EdgeRoutesOptions): Promise<RouteDoc> {
  const { HealthSchema } = await import("./responses.ts");
  const t = options.monitor.thresholds;
  const health = named("Health", HealthSchema);
  return {
    operationId: "getHealth",
    tags: ["Node"],
    summary: "This node's health (for load balancers)",
    // Public; the operator guard applies to `?verbose=1` only.
    security: [{}, ...OPERATOR_SECURITY],
    description:
      `Healthy while the window's rate of 5xx ${
        t.countOriginErrors ? "(edge and origin)" : "made by the edge"
      } is under ${t.maxErrorRate * 100}% and p99 under ${t.maxP99Ms} ms (with at least ` +
      `${t.minRequests} requests to judge by), and no condition is in force: a policy module ` +
      "that did not load, every origin out of rotation or a KV store that cannot be written " +
      "make the node unhealthy (503), lesser ones degraded (200), whatever the traffic. Public. " +
      "The answer is small by default (breakers, conditions and jobs only when they need " +
      "attention); `?verbose=1` (operators: the admin token) adds thresholds, percentiles, " +
      "every breaker, condition and job.",
    parameters: [{
      name: "verbose",
      in: "query",
      required: false,
      description: "`1` for the full answer (needs the admin token)",
      schema: { type: "string", enum: ["0", "1"] },
    }],
    responses: {
      200: json("Healthy or degraded", health),
      503: {
        description: "Unhealthy; `reasons` says why. With `?verbose=1` in production without " +
          "`ADMIN_TOKEN`: `admin_not_configured` (problem+json)",
        content: { "application/json": health, [PROBLEM_CONTENT_TYPE]: PROBLEM_REF },
      },
      ...problems({ 401: OPERATOR_PROBLEMS[401], 403: OPERATOR_PROBLEMS[403] }),
      default: DEFAULT_PROBLEM,
    },
  };
}

/**
 * Builds the `/_edge/*` app (unknown paths fall to the app's 404 problem handler). `health` is
 * the app's own responder when it also answers health before routing.
 */
export function edgeRoutes(
  options: EdgeRoutesOptions,
  health: (req: Request) => Response = healthResponder(options),
): Hono<AppEnv> {
  const app = new Hono<AppEnv>().basePath("/_edge");
  const api = describedRoutes(app);

  api.get("/whereami", whereamiDoc, (c) => {
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

  // `GET /_edge/health` is also answered before routing (lib/core/app.ts); HEAD and anything else
  // that reaches the router gets the same answer here.
  api.get("/health", () => healthDoc(options), (c) => health(c.req.raw));

  monitoringRoutes(app, options);

  return app;
}

/**
 * Puts analytics together for `createApp`: the edge half (unless role `central`), the collector
 * (unless role `edge`), their routes, automatic tracking, and where summaries go — the
 * configured collector, else this node itself (over real HTTP once `setSelfUrl` is called, as
 * main.ts does in development; in-process through `internal://self` otherwise).
 */

import { compilePathPatterns } from "../../platform/http/path_pattern.ts";
import { Hono, type MiddlewareHandler } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { Clock } from "../../core/clock.ts";
import type { EdgeConfig } from "../../core/config.ts";
import type { Jobs } from "../../core/jobs.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import { internalFetch } from "../../platform/http/internal_fetch.ts";
import { centralRoutes } from "./central/routes.ts";
import { eventsRoutes } from "./routes.ts";
import { CentralCollector } from "./central/collector.ts";
import { AnalyticsEdge } from "./edge.ts";
import { DEV_CENTRAL_TOKEN } from "./config.ts";
import { autoTracking } from "./tracker.ts";

/** What {@linkcode createAnalytics} needs. */
export interface AnalyticsDeps {
  config: EdgeConfig;
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  jobs: Jobs;
  /** This node's own handler, for `internal://self` delivery. */
  selfFetch: (req: Request) => Response | Promise<Response>;
  /** How a remote collector is reached (default: the global `fetch`). */
  fetch?: typeof fetch;
  random?: () => number;
}

/** Analytics as the app sees it. */
export interface Analytics {
  /** The edge half, or null (role `central`, or `analytics.enabled` false). */
  edge: AnalyticsEdge | null;
  /** The collector, or null (role `edge`). */
  central: CentralCollector | null;
  /** `/events*` and `/_central/*`. */
  routes: Hono<AppEnv>;
  /** Automatic tracking, or null when no paths are configured. */
  tracking: MiddlewareHandler<AppEnv> | null;
  /** Whether automatic tracking records requests to this path. */
  tracks(path: string): boolean;
  /** Where this node listens, once known (the default collector URL in role `both`). */
  setSelfUrl(url: string): void;
  /** The collector URL summaries go to now. */
  centralUrl(): string;
}

export { DEV_CENTRAL_TOKEN };

function randomToken(): string {
  return crypto.randomUUID().replaceAll("-", "") + crypto.randomUUID().replaceAll("-", "");
}

/**
 * The collector token: `CENTRAL_TOKEN`; in one process (role both, collector = self) without it,
 * a well-known one in development (so `/_central/stats` can be tried with curl), else a random one
 * shared in memory. Null when separate processes need a shared token that is not set: the
 * collector then refuses everything (503) and an edge keeps its summaries in the outbox.
 */
export function centralTokenOf(config: EdgeConfig): string | null {
  const cfg = config.analytics;
  if (cfg.centralToken !== undefined) return cfg.centralToken;
  const self = config.role === "both" &&
    (cfg.centralUrl === undefined || cfg.centralUrl === "internal://self");
  if (!self) return null;
  return config.mode === "development" ? DEV_CENTRAL_TOKEN : randomToken();
}

/** Builds the analytics parts of a node from its config. */
export function createAnalytics(deps: AnalyticsDeps): Analytics {
  const { config, kv, clock, metrics } = deps;
  const cfg = config.analytics;
  const log = deps.log.child({ area: "analytics" });
  const token = centralTokenOf(config);
  let selfUrl: string | null = null;
  const centralUrl = () => cfg.centralUrl ?? selfUrl ?? "internal://self";
  const send = internalFetch({ self: deps.selfFetch }, deps.fetch ?? globalThis.fetch);

  const edge = config.role !== "central" && cfg.enabled
    ? new AnalyticsEdge({
      config: cfg,
      region: config.region,
      kv,
      clock,
      log,
      metrics,
      jobs: deps.jobs,
      fetch: send,
      token,
      centralUrl,
      random: deps.random,
    })
    : null;
  const central = config.role !== "edge"
    ? new CentralCollector({ kv, clock, idempotencyDays: cfg.idempotencyDays })
    : null;

  const routes = new Hono<AppEnv>();
  routes.route("/", eventsRoutes(edge));
  routes.route("/", centralRoutes(central ? { collector: central, token, metrics } : null));

  const tracking = edge && cfg.track.paths.length > 0
    ? autoTracking({
      paths: cfg.track.paths,
      eventType: cfg.track.eventType,
      tracker: edge.tracker,
      now: () => clock.now(),
      onEvent: (bytes) => edge.countTracked(bytes),
    })
    : null;

  const trackedPaths = tracking ? compilePathPatterns(cfg.track.paths) : null;
  return {
    edge,
    central,
    routes,
    tracking,
    tracks: (path) => trackedPaths !== null && trackedPaths(path),
    setSelfUrl(url) {
      selfUrl = url.replace(/\/+$/, "");
    },
    centralUrl,
  };
}

/**
 * `createApp(deps)`: the edge node as Hono apps plus its lifecycle. No I/O happens at import
 * time; everything the node touches (KV, clock, network, IP database) is passed in.
 *
 * A request first gets its context (request id, client, lazy location) outside the router, then
 * goes to the `/_edge/*` app or the main app, and its response is stamped with the node's
 * identity on the way out. Keeping that step out of Hono's middleware chain lets a route with a
 * single synchronous handler answer without a promise at all.
 */

import { type Context, Hono } from "hono";
import type { AppBindings, AppEnv, EdgeRequestContext, ServeInfo } from "./app_env.ts";
import { type Clock, systemClock } from "./clock.ts";
import { defaultRegionOf, type EdgeConfig } from "./config.ts";
import { abTesting, experimentHeaders } from "./ab/middleware.ts";
import { type Analytics, createAnalytics } from "./analytics/wiring.ts";
import { RegionIndex } from "./geo/regions.ts";
import type { IpCountryLookup } from "./geo/types.ts";
import type { IpDatabaseState } from "./geo/ipdb.ts";
import { type Authz, createAuthz } from "./authz/setup.ts";
import { EdgeContexts } from "./http/edge_context.ts";
import { problemHandler, problemNotFound } from "./http/errors.ts";
import { Jobs } from "./jobs.ts";
import { type Logger, silentLogger } from "./log.ts";
import { Monitor } from "./metrics/monitor.ts";
import { adminGuard } from "./metrics/admin.ts";
import { MetricsRegistry } from "./metrics/registry.ts";
import { ROUTE_GROUPS, routeGroupOf } from "./metrics/route_group.ts";
import { pathIs, pathOf, pathStart, segmentIs } from "./http/url_path.ts";
import { createDemoOrigin, type DemoOrigin } from "./origin/demo.ts";
import { internalFetch } from "./origin/internal_fetch.ts";
import { OriginHealth } from "./proxy/breaker.ts";
import { Forwarder } from "./proxy/forward.ts";
import { encodedFetch } from "./proxy/raw_fetch.ts";
import { edgeRoutes, healthResponder } from "../routes/edge.ts";
import { createEdgeData, type EdgeData, type EdgeDataOptions } from "./sync/edge_data.ts";
import { mountDataRoutes } from "../routes/data.ts";
import { forwardToOrigin, originProxy } from "../routes/proxy.ts";
import { EdgeCache } from "./cache/edge_cache.ts";
import { bearerCheck } from "./http/bearer.ts";
import { cacheStatsHandler, purgeHandler } from "../routes/cache.ts";
import { docsRoutes } from "../routes/docs.ts";

/** Everything the edge node needs from outside. */
export interface AppDeps {
  config: EdgeConfig;
  kv: Deno.Kv;
  clock?: Clock;
  /**
   * How origins are reached (default: the global `fetch`, and `node:http` for requests that ask
   * for a content coding). It must hand encoded bodies over as they are.
   */
  fetch?: typeof fetch;
  /** IP → country lookups; without one, location falls through to the default. */
  ipdb?: IpCountryLookup & { state?: IpDatabaseState };
  log?: Logger;
  /** Where every area records its metrics (a fresh registry when absent). */
  metrics?: MetricsRegistry;
  /** `JWT_SECRET` (from the environment only; never logged). */
  jwtSecret?: string;
  /** Authorization module bytes instead of reading `authz.wasm.path` (tests). */
  authzWasm?: Uint8Array;
  /** Overrides `data.itemSchema` with any zod schema for item bodies. */
  itemSchema?: EdgeDataOptions["itemSchema"];
  /** The admin bearer token (`ADMIN_TOKEN`) for `/_edge/purge`; unset refuses every call. */
  adminToken?: string;
}

/** A built edge node. */
export interface Edge {
  /** The handler for `Deno.serve` (its second argument carries the peer address). */
  fetch(req: Request, info?: ServeInfo): Response | Promise<Response>;
  config: EdgeConfig;
  regions: RegionIndex;
  health: OriginHealth;
  jobs: Jobs;
  metrics: MetricsRegistry;
  /** Recording, health, snapshots and alerts (issue 7). */
  monitor: Monitor;
  /** The in-process demo origin when `demoOrigin.mode` is `internal`. */
  demo: DemoOrigin | null;
  /** Events at the edge and the central collector (see `lib/analytics/wiring.ts`). */
  analytics: Analytics;
  /** The authorization stage (null when `authz.enabled` is false). */
  authz: Authz | null;
  /** Items, CRDT replicas and anti-entropy sync. */
  data: EdgeData;
  /** The SWR edge cache (null when `cache.enabled` is false). */
  cache: EdgeCache | null;
  /** The routers behind `fetch`: `/_edge/*` and everything else (route listings, tests). */
  routers: { edge: Hono<AppEnv>; main: Hono<AppEnv> };
  /** Starts background jobs (not started by `createApp`, so tests stay deterministic). */
  start(): void;
  /** Stops background jobs; the caller closes KV. */
  close(): Promise<void>;
}

/** Hono's `c.env` for one request: the context, and `Deno.serve`'s info read on demand. */
class RequestEnv implements AppBindings {
  readonly ctx: EdgeRequestContext;
  readonly #info: ServeInfo | undefined;

  constructor(ctx: EdgeRequestContext, info: ServeInfo | undefined) {
    this.ctx = ctx;
    this.#info = info;
  }

  get completed(): Promise<void> | undefined {
    return this.#info?.completed;
  }

  get remoteAddr(): AppBindings["remoteAddr"] {
    return this.#info?.remoteAddr as AppBindings["remoteAddr"];
  }
}

/** Builds the edge node. */
export function createApp(deps: AppDeps): Edge {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const log = (deps.log ?? silentLogger).child({ region: config.region });
  const startedAt = clock.now();
  const regions = new RegionIndex(config.regions, defaultRegionOf(config));
  const metrics = deps.metrics ?? new MetricsRegistry();
  const jobs = new Jobs(log, clock, metrics);

  const demo = config.demoOrigin.mode === "internal" ? createDemoOrigin({ clock }) : null;
  // Origins are asked for the client's (normalised) encodings, and their encoded bodies pass
  // through as they are: not through the global fetch, which would decode them.
  const upstreamFetch = internalFetch(
    demo ? { demo: (req) => demo.fetch(req) } : {},
    deps.fetch ?? encodedFetch(globalThis.fetch),
  );

  const breakerTransitions = metrics.counter(
    "outpost_origin_breaker_transitions_total",
    "Circuit breaker state changes, by the state entered",
  );
  const attempts = metrics.counter(
    "outpost_origin_attempts_total",
    "Requests sent to origins, by region and outcome",
  );
  const health = new OriginHealth({
    ...config.proxy.breaker,
    clock,
    onTransition(origin, from, to, reason) {
      breakerTransitions.inc({ to });
      const region = config.regions.filter((r) => r.origin === origin).map((r) => r.name);
      const level = to === "open" ? "warn" : "info";
      log[level]("origin health changed", { origin, regions: region, from, to, reason });
    },
  });
  const forwarder = new Forwarder({
    fetch: upstreamFetch,
    health,
    clock,
    log,
    timeoutMs: config.proxy.timeoutMs,
    bodyTimeoutMs: config.proxy.bodyTimeoutMs,
    maxAttempts: config.proxy.maxAttempts,
    retryBodyLimitBytes: config.proxy.retryBodyLimitBytes,
    onAttempt: (a) => attempts.inc({ region: a.region, outcome: a.outcome }),
  });

  const onError = problemHandler((error, c: Context<AppEnv>) => {
    log.error("unhandled error", {
      request_id: c.env.ctx.requestId,
      method: c.req.method,
      path: c.req.path.slice(0, 200),
      route: ROUTE_GROUPS[routeGroupOf(c.req.url, c.req.method)],
      error,
    });
  });

  const monitor = new Monitor({
    config,
    kv: deps.kv,
    clock,
    log,
    metrics,
    jobs,
    fetch: deps.fetch ?? globalThis.fetch,
    startedAt,
  });

  const edgeOptions = {
    monitor,
    mode: config.mode,
    adminToken: config.metrics.adminToken,
    region: config.region,
    clock,
    startedAt,
    health,
    jobs,
    // A lookup without a state of its own (a test's table) is ready from the start.
    ipDatabase: (): IpDatabaseState => deps.ipdb === undefined ? "off" : deps.ipdb.state ?? "ready",
  };
  // Load balancers poll health: `GET` is answered before routing, other methods by the router.
  const answerHealth = healthResponder(edgeOptions);
  const edgeApp = edgeRoutes(edgeOptions, answerHealth);
  edgeApp.onError(onError);
  edgeApp.notFound(problemNotFound);

  // The SWR edge cache: fresh memory hits answer in `fetch` below, the rest in the main app.
  const proxyOptions = { forwarder, region: config.region };
  const cache = config.cache.enabled
    ? new EdgeCache({
      config: config.cache,
      kv: deps.kv,
      clock,
      log: log.child({ area: "cache" }),
      metrics,
      region: config.region,
      experimentHeaders: experimentHeaders(config.experiments),
      forward: (c, request, completed) => forwardToOrigin(c, proxyOptions, { request, completed }),
    })
    : null;
  if (cache) {
    jobs.add({
      name: "cache-purge-sync",
      intervalMs: config.cache.purgePollMs,
      run: () => cache.purger.sync(),
    });
    let sweeps = 0;
    jobs.add({
      name: "cache-kv-sweep",
      intervalMs: config.cache.kv.sweepSeconds * 1000,
      run: () => cache.sweepKv(sweeps++),
    });
    edgeApp.post("/purge", purgeHandler({ cache, authorized: bearerCheck(deps.adminToken) }));
    edgeApp.get(
      "/cache",
      cacheStatsHandler(cache, adminGuard({ token: config.metrics.adminToken, mode: config.mode })),
    );
  }

  const mainApp = new Hono<AppEnv>();
  mainApp.onError(onError);
  mainApp.notFound(problemNotFound);
  // Authorization runs first, and only on protected patterns: other routes pay nothing.
  const authz = createAuthz({
    config,
    kv: deps.kv,
    clock,
    log,
    metrics,
    jobs,
    fetch: deps.fetch,
    jwtSecret: deps.jwtSecret,
    wasm: deps.authzWasm,
  });
  authz?.register(mainApp);
  // Analytics: automatic tracking around everything, then `/events*` and `/_central/*`.
  const analytics = createAnalytics({
    config,
    kv: deps.kv,
    clock,
    log,
    metrics,
    jobs,
    selfFetch: (req) => fetch(req),
  });
  if (analytics.tracking) mainApp.use("*", analytics.tracking);
  mainApp.route("/", analytics.routes);
  // Edge data: /items (read at the edge, write to the center), /crdt and /_edge/sync.
  const fetchFn = deps.fetch ?? globalThis.fetch;
  const data = createEdgeData({ ...deps, config, clock, fetch: fetchFn, log, metrics, jobs });
  mountDataRoutes({ main: mainApp, edge: edgeApp }, data, { config, log, metrics });
  // API docs: the document is built from the routes' schemas on first request, never before.
  if (config.docs.enabled) {
    docsRoutes(edgeApp, {
      config: config.docs,
      document: async () =>
        (await import("./openapi/document.ts")).buildApiDocument({
          config,
          itemSchema: data.itemSchema,
          eventLimits: analytics.edge?.limits ?? null,
          collector: analytics.central !== null,
          cache: cache !== null,
          protects: authz ? (method, path) => authz.protects(method, path) : null,
          now: () => clock.now(),
        }),
    });
  }
  // Everything else goes to the nearest healthy origin; experiments pick their own paths.
  mainApp.all(
    "*",
    abTesting(config.experiments),
    ...(cache ? [cache.middleware()] : []),
    originProxy(proxyOptions),
  );

  const contexts = new EdgeContexts({
    region: config.region,
    trustedProxies: config.trustedProxies,
    geo: { regions, ipdb: deps.ipdb, defaultLocation: config.geo.defaultLocation },
  });

  function fetch(req: Request, info?: ServeInfo): Response | Promise<Response> {
    const ctx = contexts.create(req, info);
    const url = req.url;
    const start = pathStart(url);
    const edgePath = start >= 0 && segmentIs(url, start, "/_edge");
    if (edgePath && req.method === "GET" && pathIs(url, start, "/_edge/health")) {
      return finish(req, answerHealth(url), ctx);
    }
    if (
      !edgePath && cache !== null && (req.method === "GET" || req.method === "HEAD") &&
      fastPathAllowed(req)
    ) {
      const hit = cache.fastHit(req, ctx);
      if (hit !== null) return finish(req, hit, ctx);
    }
    // `info.completed` and `info.remoteAddr` are getters with a cost: read them only when used.
    const env = new RequestEnv(ctx, info);
    const res = (edgePath ? edgeApp : mainApp).fetch(req, env);
    return res instanceof Promise ? res.then((r) => finish(req, r, ctx)) : finish(req, res, ctx);
  }

  /**
   * A fresh memory hit may skip the router only when no routed stage would have acted on the
   * request: authorization of a protected path, or automatic analytics tracking.
   */
  function fastPathAllowed(req: Request): boolean {
    if (authz === null && analytics.tracking === null) return true;
    const path = pathOf(req.url);
    return !(authz?.protects(req.method, path) ?? false) && !analytics.tracks(path);
  }

  /** Stamps the node's identity, then records the request once (metrics, request log). */
  function finish(req: Request, res: Response, ctx: EdgeRequestContext): Response {
    const stamped = contexts.stamp(res, ctx);
    monitor.finish(req, stamped.status, ctx);
    return stamped;
  }

  return {
    fetch,
    config,
    regions,
    health,
    jobs,
    metrics,
    monitor,
    demo,
    analytics,
    authz,
    data,
    cache,
    routers: { edge: edgeApp, main: mainApp },
    start: () => {
      jobs.start();
      data.start();
      cache?.start();
    },
    async close() {
      data.stop();
      await cache?.close();
      await jobs.stop();
      await monitor.close();
      await analytics.edge?.close();
    },
  };
}

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
import type { AppBindings, AppEnv, EdgeRequestContext, ServeInfo } from "./request.ts";
import { type Clock, systemClock } from "./clock.ts";
import { defaultRegionOf, type EdgeConfig } from "./config.ts";
import { abTesting, experimentHeaders } from "../features/ab/middleware.ts";
import { type Analytics, centralTokenOf, createAnalytics } from "../features/analytics/wiring.ts";
import { RegionIndex } from "../features/geo/regions.ts";
import type { IpCountryLookup } from "../features/geo/types.ts";
import type { IpDatabaseState } from "../features/geo/ipdb.ts";
import { type Authz, createAuthz } from "../features/authz/setup.ts";
import { EdgeContexts } from "./context.ts";
import {
  HttpError,
  problemFor,
  problemHandler,
  problemNotFound,
  problemResponse,
} from "../platform/http/errors.ts";
import { Jobs } from "./jobs.ts";
import { type Logger, silentLogger } from "./log.ts";
import { type ConditionCheck, HealthConditions, WARMING_CONDITION } from "./conditions.ts";
import { Monitor } from "../features/monitoring/monitor.ts";
import { adminGuard } from "../platform/guard.ts";
import { type BoundCounter, MetricsRegistry } from "./metrics.ts";
import { ROUTE_GROUPS, routeGroupOf } from "../platform/http/route_group.ts";
import { pathIs, segmentIs } from "../platform/http/url_path.ts";
import { type CanonicalTarget, canonicalTarget, isRefusal } from "../platform/http/target.ts";
import { createDemoOrigin, type DemoOrigin } from "../origin/demo.ts";
import { internalFetch } from "../platform/http/internal_fetch.ts";
import { OriginHealth } from "../proxy/breaker.ts";
import { Forwarder } from "../proxy/forward.ts";
import { pathGrouper } from "../proxy/path_group.ts";
import { PlainPaths } from "../proxy/plain_paths.ts";
import { encodedFetch } from "../proxy/raw_fetch.ts";
import { edgeRoutes, healthResponder } from "../features/monitoring/health_route.ts";
import { createEdgeData, type EdgeData, type EdgeDataOptions } from "../features/crdt/feature.ts";
import { mountDataRoutes } from "../../routes/data.ts";
import {
  forwardRequest,
  forwardToOrigin,
  methodRefused,
  originProxy,
  REFUSED_METHODS,
} from "../../routes/proxy.ts";
import { EdgeCache, type FastPass } from "../cache/edge_cache.ts";
import { cacheStatsHandler, purgeHandler } from "../../routes/cache.ts";
import { docsRoutes } from "../features/docs/routes.ts";
import { analyticsFlushHandler } from "../features/analytics/routes.ts";
import { createFunctions, type Functions } from "../features/functions/feature.ts";
import type { FunctionManifest } from "../features/functions/types.ts";
import { createWebSockets, type WebSockets } from "../features/websocket/feature.ts";
import { createPlatform, type Platform } from "../features/deploy/feature.ts";
import type { EdgeKv } from "../features/deploy/kv.ts";

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
  /** Authorization module bytes instead of reading `authz.wasm.path`. */
  authzWasm?: Uint8Array;
  /** `authzWasm` compiled ahead (main.ts compiles it while KV opens). */
  authzModule?: WebAssembly.Module;
  /** Overrides `data.itemSchema` with any zod schema for item bodies. */
  itemSchema?: EdgeDataOptions["itemSchema"];
  /** Health conditions raised before the app is built; else a new one. */
  conditions?: HealthConditions;
  /** Users' edge functions: the generated `functions/_manifest.ts` (docs/functions.md). */
  functions?: FunctionManifest;
  /** How `kv` was opened (main.ts): health reports a store that is not open, or not shared. */
  edgeKv?: EdgeKv;
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
  /** Recording, health, snapshots and alerts. */
  monitor: Monitor;
  /**
   * What makes the node degraded or unhealthy regardless of traffic: stages raise or clear a
   * named condition (`raise(name, level, reason)`), or register a check health runs.
   */
  conditions: HealthConditions;
  /** The in-process demo origin when `demoOrigin.mode` is `internal`. */
  demo: DemoOrigin | null;
  /** Events at the edge and the central collector (see `lib/features/analytics/wiring.ts`). */
  analytics: Analytics;
  /** The authorization stage (null when `authz.enabled` is false). */
  authz: Authz | null;
  /** Items, CRDT replicas and anti-entropy sync. */
  data: EdgeData;
  /** The SWR edge cache (null when `cache.enabled` is false). */
  cache: EdgeCache | null;
  /** Secrets the node runs without, and what each disables (also in health). */
  missingSecrets: readonly MissingSecret[];
  /** Users' functions (null when there are none or `functions.enabled` is false). */
  functions: Functions | null;
  /** WebSockets relayed to origins (null when `websocket.enabled` is false). */
  websocket: WebSockets | null;
  /** Where the node runs: identity, Deno Deploy's CDN, the KV's state. */
  platform: Platform;
  /** The routers behind `fetch`: `/_edge/*` and everything else (route listings, tests). */
  routers: { edge: Hono<AppEnv>; main: Hono<AppEnv> };
  /** Starts background jobs (not started by `createApp`, so tests stay deterministic). */
  start(): void;
  /** Stops background jobs (waiting up to `graceMs` for running ones); the caller closes KV. */
  close(options?: { graceMs?: number }): Promise<void>;
}

/**
 * How long a path whose origin answered plain is asked for `identity` before it is asked the
 * client's way again (see `PlainPaths`), and how many such paths are kept.
 */
const PLAIN_PATH_TTL_MS = 60_000;
const PLAIN_PATH_ENTRIES = 10_000;

/** The context's target for a request refused before routing (nothing reads it). */
const REFUSED_TARGET: CanonicalTarget = {
  authority: "",
  path: "/",
  query: "",
  absoluteForm: false,
  connectionScheme: "http",
  url: "",
};

/** Hono's `c.env` for one request: the context, and `Deno.serve`'s info read on demand. */
class RequestEnv implements AppBindings {
  readonly ctx: EdgeRequestContext;
  readonly raw: Request;
  readonly #info: ServeInfo | undefined;

  constructor(ctx: EdgeRequestContext, info: ServeInfo | undefined, raw: Request) {
    this.ctx = ctx;
    this.#info = info;
    this.raw = raw;
  }

  get completed(): Promise<void> | undefined {
    return this.#info?.completed;
  }

  get remoteAddr(): AppBindings["remoteAddr"] {
    return this.#info?.remoteAddr as AppBindings["remoteAddr"];
  }
}

/** Out of rotation: every origin makes the node unhealthy, some of them degraded. */
function originsCheck(health: OriginHealth, urls: readonly string[]): ConditionCheck {
  const origins = [...new Set(urls)];
  return () => {
    const out = health.outOfRotation(origins).length;
    if (out === 0) return null;
    if (out < origins.length) {
      return {
        level: "degraded",
        reason: `${out} of ${origins.length} origins out of rotation (recent connection failures)`,
      };
    }
    return {
      level: "unhealthy",
      reason: origins.length === 1
        ? "the origin is out of rotation (recent connection failures)"
        : `every origin (${origins.length}) is out of rotation (recent connection failures)`,
    };
  };
}

/** A policy module that did not load, or stopped and could not restart, denies with 503. */
function policyModuleCheck(authz: Authz): ConditionCheck {
  return () => {
    if (authz.module === null) {
      return {
        level: "unhealthy",
        reason: "the authorization policy module did not load: protected routes answer 503 " +
          "(or fail open where configured)",
      };
    }
    if (!authz.module.running) {
      return {
        level: "unhealthy",
        reason: "the authorization policy module stopped and could not restart: protected " +
          "routes answer 503 (or fail open where configured)",
      };
    }
    return null;
  };
}

/** Degraded while the IP database loads behind a listening node. */
function warmingCheck(ipDatabase: () => IpDatabaseState): ConditionCheck {
  return () =>
    ipDatabase() === "loading"
      ? {
        level: "degraded",
        reason: "warming: the IP database is loading (client locations come from headers " +
          "or the default location until it is ready)",
      }
      : null;
}

/** Degraded when the IP database could not be loaded. */
function ipDatabaseCheck(ipDatabase: () => IpDatabaseState): ConditionCheck {
  return () =>
    ipDatabase() === "failed"
      ? {
        level: "degraded",
        reason: "the IP database failed to load: client locations come from headers or the " +
          "default location",
      }
      : null;
}

/** A secret the node runs without, and what answers 503 because of it. */
export interface MissingSecret {
  name: string;
  disables: string;
}

/**
 * The secrets this node runs without. Each disables only what needs it, which then answers 503
 * (fail closed); none stops the node.
 */
function secretsMissing(config: EdgeConfig, authz: Authz | null): MissingSecret[] {
  const out: MissingSecret[] = [];
  if (authz?.missing) out.push({ name: authz.missing, disables: "protected routes" });
  if (config.mode === "production" && config.metrics.adminToken === undefined) {
    out.push({
      name: "ADMIN_TOKEN",
      disables: "operator endpoints (metrics, stats, purge, analytics flush)",
    });
  }
  if (centralTokenOf(config) === null) {
    const parts = [
      config.role !== "edge" ? "the collector (/_central)" : null,
      config.role !== "central" && config.analytics.enabled ? "summary delivery" : null,
    ].filter(Boolean);
    out.push({ name: "CENTRAL_TOKEN", disables: parts.join(" and ") || "the collector" });
  }
  if (config.sync.peers.length > 0 && config.sync.token === undefined) {
    out.push({ name: "SYNC_TOKEN", disables: "sync with peers" });
  }
  return out;
}

/** Builds the edge node. */
export function createApp(deps: AppDeps): Edge {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const log = (deps.log ?? silentLogger).child({ region: config.region });
  const startedAt = clock.now();
  // How clients reach this process (a trusted proxy's X-Forwarded-Proto may say otherwise).
  const scheme = config.tls ? "https" : "http";
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
    "Circuit breaker state changes, by the state entered and scope (origin, path_group)",
  );
  const attempts = metrics.counter(
    "outpost_origin_attempts_total",
    "Requests sent to origins, by region and outcome",
  );
  // Bound once per region and outcome: labels looked up on every attempt cost a key build each.
  const attemptCounters = new Map<string, BoundCounter>();
  const attemptCounter = (region: string, outcome: string): BoundCounter => {
    const key = `${region}\u0000${outcome}`;
    let bound = attemptCounters.get(key);
    if (bound === undefined) {
      bound = attempts.bind({ region, outcome });
      // Regions come from the config, outcomes from a fixed set: this stays small.
      attemptCounters.set(key, bound);
    }
    return bound;
  };
  const breaker = config.proxy.breaker;
  const health = new OriginHealth({
    failureThreshold: breaker.failureThreshold,
    cooldownMs: breaker.cooldownMs,
    whenAllOut: breaker.whenAllOut,
    clock,
    onTransition(origin, from, to, reason, group) {
      breakerTransitions.inc({ to, scope: group === null ? "origin" : "path_group" });
      const region = config.regions.filter((r) => r.origin === origin).map((r) => r.name);
      const level = to === "open" ? "warn" : "info";
      log[level]("origin health changed", {
        origin,
        regions: region,
        ...(group === null ? {} : { path_group: group }),
        from,
        to,
        reason,
      });
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
    countStatuses: breaker.countStatuses,
    pathGroup: pathGrouper(breaker.pathGroups),
    onAttempt: (a) => attemptCounter(a.region, a.outcome).inc(),
  });

  // WebSockets on proxied routes: the same origins, ranking and breakers as forwarding.
  const websocket = createWebSockets({
    clock,
    log,
    metrics,
    jobs,
    health,
    region: config.region,
    maxAttempts: config.proxy.maxAttempts,
    onAttempt: (a) => attemptCounter(a.region, a.outcome).inc(),
  }, config.websocket);

  function reportUnhandled(error: unknown, req: Request, ctx: EdgeRequestContext): void {
    log.error("unhandled error", {
      request_id: ctx.requestId,
      method: req.method,
      path: ctx.target.path.slice(0, 200),
      route: ROUTE_GROUPS[routeGroupOf(req.url, req.method)],
      error,
    });
  }
  const onError = problemHandler((error, c: Context<AppEnv>) =>
    reportUnhandled(error, c.req.raw, c.env.ctx)
  );

  const conditions = deps.conditions ?? new HealthConditions({
    onCheckError: (name, error) => log.error("health check failed", { check: name, error }),
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
    conditions,
  });
  conditions.check("origins", originsCheck(health, config.regions.map((r) => r.origin)));
  // Authorization is built below; the platform asks it per request, long after this runs.
  let authz: Authz | null = null;
  const platform = createPlatform({
    clock,
    log,
    metrics,
    jobs,
    conditions,
    fetch: deps.fetch ?? globalThis.fetch,
    nodeId: monitor.nodeId,
    protects: (method, path) => authz?.protects(method, path) ?? false,
    edgeKv: deps.edgeKv,
  }, config);
  const cdn = platform.cdn;

  // One guard for every operator endpoint, from the one validated ADMIN_TOKEN.
  const admin = adminGuard({ token: config.metrics.adminToken, mode: config.mode });
  const originNames: Record<string, string> = {};
  for (const r of config.regions) {
    originNames[r.origin] = originNames[r.origin] ? `${originNames[r.origin]},${r.name}` : r.name;
  }
  const edgeOptions = {
    originNames,
    monitor,
    admin,
    region: config.region,
    clock,
    startedAt,
    health,
    jobs,
    // A lookup without a state of its own (a test's table) is ready from the start.
    ipDatabase: (): IpDatabaseState => deps.ipdb === undefined ? "off" : deps.ipdb.state ?? "ready",
    notes: platform.notes,
    platform: () => platform.identity(),
  };
  // Slow extras come up after the node listens: it answers meanwhile, and health says so.
  conditions.check(WARMING_CONDITION, warmingCheck(edgeOptions.ipDatabase));
  conditions.check("ip_database", ipDatabaseCheck(edgeOptions.ipDatabase));
  // Load balancers poll health: `GET` is answered before routing, other methods by the router.
  const answerHealth = healthResponder(edgeOptions);
  const edgeApp = edgeRoutes(edgeOptions, answerHealth);
  edgeApp.onError(onError);
  edgeApp.notFound(problemNotFound);

  // The SWR edge cache: fresh memory hits answer in `fetch` below, the rest in the main app.
  const proxyOptions = {
    forwarder,
    region: config.region,
    methodOverrideHeaders: new Set<string>(config.proxy.methodOverrideHeaders),
    maxBodyBytes: config.proxy.maxBodyBytes,
    acceptEncoding: config.proxy.acceptEncoding,
    plainPaths: {
      memory: new PlainPaths({ ttlMs: PLAIN_PATH_TTL_MS, maxEntries: PLAIN_PATH_ENTRIES }),
      clock,
    },
  };
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
      run: () => cache.purger.poll(config.cache.purgeWatchedPollMs),
    });
    let sweeps = 0;
    jobs.add({
      name: "cache-kv-sweep",
      intervalMs: config.cache.kv.sweepSeconds * 1000,
      run: () => cache.sweepKv(sweeps++),
    });
    edgeApp.post("/purge", purgeHandler({ cache, admin, platform: platform.purger }));
    edgeApp.get("/cache", cacheStatsHandler(cache, admin));
  }

  const mainApp = new Hono<AppEnv>();
  mainApp.onError(onError);
  mainApp.notFound(problemNotFound);
  // A browser's token offered as a subprotocol is authorized like one in the header (without
  // authorization the relay itself keeps it from the origin's offer).
  if (websocket && config.authz.enabled) mainApp.use("*", websocket.credentials);
  // Authorization runs first, and only on protected patterns: other routes pay nothing.
  authz = createAuthz({
    config,
    kv: deps.kv,
    clock,
    log,
    metrics,
    jobs,
    fetch: deps.fetch,
    jwtSecret: deps.jwtSecret,
    wasm: deps.authzWasm,
    wasmModule: deps.authzModule,
  });
  authz?.register(mainApp);
  if (authz) conditions.check("authz.module", policyModuleCheck(authz));
  const guard = authz;
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
  if (analytics.edge) {
    edgeApp.post("/analytics/flush", analyticsFlushHandler(analytics.edge, admin));
  }
  // Edge data: /items (read at the edge, write to the center), /crdt and /_edge/sync.
  const fetchFn = deps.fetch ?? globalThis.fetch;
  const data = createEdgeData({ ...deps, config, clock, fetch: fetchFn, log, metrics, jobs });
  // Secrets the node runs without: each closes what needs it, and health says degraded.
  const missingSecrets = secretsMissing(config, authz);
  for (const m of missingSecrets) {
    conditions.raise(
      `secret.${m.name}`,
      "degraded",
      `${m.name} is not set: ${m.disables} answer 503`,
    );
  }
  mountDataRoutes({ main: mainApp, edge: edgeApp }, data, { config, log, metrics });
  // Users' functions: after the edge's own routes, before the origin; authorization applies.
  const functions = createFunctions(
    {
      kv: deps.kv,
      clock,
      log,
      metrics,
      cache,
      analytics: analytics.edge,
      region: config.region,
      experiments: config.experiments,
      forward: (c, request) => {
        // A function's own path is made canonical like a client's before it is forwarded.
        const target = canonicalTarget(request.url, null, scheme);
        if (isRefusal(target)) throw new TypeError(`Invalid origin path: ${target.detail}`);
        return forwardToOrigin(c, proxyOptions, { request, completed: c.env.completed, target });
      },
    },
    config.functions,
    deps.functions,
  );
  if (functions) mainApp.route("/", functions.routes);
  // API docs: the document is generated from the routes this app mounts (each carries its
  // description and schemas) on first request, never before.
  if (config.docs.enabled) {
    docsRoutes(edgeApp, {
      config: config.docs,
      document: async () =>
        (await import("../features/docs/openapi/document.ts")).buildApiDocument({
          config,
          routers: [edgeApp, mainApp],
          protects: guard ? (method, path) => guard.protects(method, path) : null,
        }),
    });
  }
  // Everything else goes to the nearest healthy origin; experiments pick their own paths.
  mainApp.all(
    "*",
    abTesting(config.experiments),
    ...(websocket ? [websocket.proxy] : []),
    ...(cache ? [cache.middleware()] : []),
    originProxy(proxyOptions),
  );

  const contexts = new EdgeContexts({
    region: config.region,
    trustedProxies: config.trustedProxies,
    geo: { regions, ipdb: deps.ipdb, defaultLocation: config.geo.defaultLocation },
  });

  function fetch(raw: Request, info?: ServeInfo): Response | Promise<Response> {
    const startedAt = performance.now();
    // CONNECT, TRACE and TRACK are never forwarded, and `new Request` refuses to rebuild them
    // on a canonical URL: answered here.
    if (REFUSED_METHODS.has(raw.method.toUpperCase())) {
      return refuse(raw, info, methodRefused(raw.method), startedAt);
    }
    const target = canonicalTarget(raw.url, raw.headers.get("host"), scheme);
    if (isRefusal(target)) {
      const error = new HttpError(target.status, target.detail, { code: target.code });
      return refuse(raw, info, error, startedAt);
    }
    // Routing sees the canonical URL, so Hono's path, authorization, the cache key and the
    // forwarded path are one and the same (a request that needs no change is not copied).
    const req = target.url === raw.url ? raw : new Request(target.url, raw);
    const ctx = contexts.create(req, info, target, startedAt);
    const path = target.path;
    const edgePath = segmentIs(path, 0, "/_edge");
    if (edgePath && req.method === "GET" && pathIs(path, 0, "/_edge/health")) {
      return finish(req, answerHealth(req), ctx);
    }
    if (
      !edgePath && cache !== null && (req.method === "GET" || req.method === "HEAD") &&
      fastPathAllowed(req.method, path)
    ) {
      const fast = cache.fast(req, ctx);
      if (fast instanceof Response) return finish(req, fast, ctx);
      if (fast !== null) return passStraight(req, info, ctx, fast);
    }
    // `info.completed` and `info.remoteAddr` are getters with a cost: read them only when used.
    const env = new RequestEnv(ctx, info, raw);
    const res = (edgePath ? edgeApp : mainApp).fetch(req, env);
    return res instanceof Promise ? res.then((r) => finish(req, r, ctx)) : finish(req, res, ctx);
  }

  /**
   * A GET/HEAD for a URL marked hit-for-pass, forwarded before routing: what the router would do
   * for it (the cache's `BYPASS` pass to the origin) without its middleware layers.
   */
  async function passStraight(
    req: Request,
    info: ServeInfo | undefined,
    ctx: EdgeRequestContext,
    pass: FastPass,
  ): Promise<Response> {
    let res: Response;
    try {
      const requestTime = clock.now();
      const forwarded = await forwardRequest(req, ctx, info?.completed, proxyOptions, null);
      res = cache!.passed(forwarded, pass, {
        requestTime,
        authorization: req.headers.has("authorization"),
        ctx,
      });
    } catch (error) {
      const { response, code } = problemFor(
        error,
        { path: ctx.target.path, requestId: ctx.requestId },
        () => reportUnhandled(error, req, ctx),
      );
      ctx.problem = code;
      res = response;
    }
    return finish(req, res, ctx);
  }

  /** A request target the edge will not route (400/414 problem, before anything else runs). */
  function refuse(
    raw: Request,
    info: ServeInfo | undefined,
    error: HttpError,
    startedAt: number,
  ): Response {
    const ctx = contexts.create(raw, info, REFUSED_TARGET, startedAt);
    ctx.problem = error.code;
    return finish(raw, problemResponse(error, { requestId: ctx.requestId }), ctx);
  }

  /**
   * A fresh memory hit or a hit-for-pass may skip the router only when no routed stage would have
   * acted on the request: authorization of a protected path, or automatic analytics tracking.
   */
  function fastPathAllowed(method: string, path: string): boolean {
    if (guard === null && analytics.tracking === null) return true;
    return !(guard?.protects(method, path) ?? false) && !analytics.tracks(path);
  }

  /**
   * Stamps what Deno Deploy's CDN may do with the answer and the node's identity, then records
   * the request once (metrics, request log).
   */
  function finish(req: Request, res: Response, ctx: EdgeRequestContext): Response {
    const stamped = contexts.stamp(cdn === null ? res : cdn.stamp(req, res, ctx), ctx);
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
    conditions,
    demo,
    analytics,
    authz: guard,
    data,
    cache,
    missingSecrets,
    functions,
    websocket,
    platform,
    routers: { edge: edgeApp, main: mainApp },
    start: () => {
      jobs.start();
      data.start();
      cache?.start();
      platform.start();
    },
    async close(options = {}) {
      await websocket?.close(options.graceMs);
      data.stop();
      await cache?.close();
      await jobs.stop(options.graceMs);
      await monitor.close();
      await analytics.edge?.close();
    },
  };
}

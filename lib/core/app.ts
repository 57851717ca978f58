/**
 * `createApp(deps)`: the edge node as a loop over the features of `registry.ts`, plus its
 * lifecycle. No I/O happens at import time; everything the node touches (KV, clock, network, IP
 * database) is passed in.
 *
 * A request first gets its canonical target and context (request id, client, lazy location)
 * outside the router, may be answered before routing (health, a fresh cache hit), then goes to
 * the `/_edge/*` router or the main one, and its answer is stamped on the way out. Keeping those
 * steps out of Hono's middleware chain lets a route with a single synchronous handler answer
 * without a promise at all.
 */

import { type Context, Hono, type MiddlewareHandler } from "hono";
import { type AppEnv, type EdgeRequestContext, RequestEnv, type ServeInfo } from "./request.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { EdgeConfig } from "./config.ts";
import { EdgeContexts } from "./context.ts";
import type {
  FeatureApis,
  FeatureInputs,
  FeatureParts,
  MissingSecret,
  Phase,
  RoutedCheck,
} from "./feature.ts";
import { PHASES } from "./feature.ts";
import { FEATURES } from "./registry.ts";
import type { Secrets, Services } from "./services.ts";
import { Jobs } from "./jobs.ts";
import { type Logger, silentLogger } from "./log.ts";
import { HealthConditions } from "./conditions.ts";
import { MetricsRegistry } from "./metrics.ts";
import {
  HttpError,
  problemFor,
  problemHandler,
  problemNotFound,
  problemResponse,
} from "../platform/http/errors.ts";
import { methodRefused, REFUSED_METHODS } from "../platform/http/methods.ts";
import { ROUTE_GROUPS, routeGroupOf } from "../platform/http/route_group.ts";
import { segmentIs } from "../platform/http/url_path.ts";
import { type CanonicalTarget, canonicalTarget, isRefusal } from "../platform/http/target.ts";

/** Everything the edge node needs from outside: the core's, and what features take as inputs. */
export interface AppDeps extends FeatureInputs {
  config: EdgeConfig;
  kv: Deno.Kv;
  clock?: Clock;
  /**
   * How other hosts are reached (default: the global `fetch`; origins then through `node:http`
   * for requests that ask for a content coding). For origins it must hand encoded bodies over as
   * they are.
   */
  fetch?: typeof fetch;
  log?: Logger;
  /** Where every feature records its metrics (a fresh registry when absent). */
  metrics?: MetricsRegistry;
  /** Health conditions raised before the app is built; else a new one. */
  conditions?: HealthConditions;
  /** Secrets from the environment only (`loadSecrets`), by variable name: `JWT_SECRET`. */
  secrets?: Secrets;
}

type Api<K extends keyof FeatureApis> = FeatureApis[K];

/** A built edge node. */
export interface Edge {
  /** The handler for `Deno.serve` (its second argument carries the peer address). */
  fetch(req: Request, info?: ServeInfo): Response | Promise<Response>;
  config: EdgeConfig;
  jobs: Jobs;
  metrics: MetricsRegistry;
  /**
   * What makes the node degraded or unhealthy regardless of traffic: stages raise or clear a
   * named condition (`raise(name, level, reason)`), or register a check health runs.
   */
  conditions: HealthConditions;
  /** Secrets the node runs without, and what each disables (also in health). */
  missingSecrets: readonly MissingSecret[];
  /** The api of a feature by name; null when it is off. */
  use<K extends keyof FeatureApis>(name: K): Api<K> | null;
  regions: Api<"geo">["regions"];
  /** The origins' circuit breakers. */
  health: Api<"proxy">["health"];
  /** The in-process demo origin when `demoOrigin.mode` is `internal`. */
  demo: Api<"proxy">["demo"];
  /** Recording, health, snapshots and alerts. */
  monitor: Api<"monitoring">["monitor"];
  /** Events at the edge and the central collector. */
  analytics: Api<"analytics">;
  /** The authorization stage (null when `authz.enabled` is false). */
  authz: Api<"authz"> | null;
  /** Items, CRDT replicas and anti-entropy sync. */
  data: Api<"items"> & Api<"crdt">;
  /** The SWR edge cache (null when `cache.enabled` is false). */
  cache: Api<"cache"> | null;
  /** Users' functions (null when there are none or `functions.enabled` is false). */
  functions: Api<"functions"> | null;
  /** WebSockets relayed to origins (null when `websocket.enabled` is false). */
  websocket: Api<"websocket"> | null;
  /** Where the node runs: identity, Deno Deploy's CDN, the KV's state. */
  platform: Api<"deploy">;
  /** The routers behind `fetch`: `/_edge/*` and everything else (route listings, tests). */
  routers: { edge: Hono<AppEnv>; main: Hono<AppEnv> };
  /** Starts background jobs, then each feature (not by `createApp`: tests stay deterministic). */
  start(): void;
  /** Stops background jobs (waiting up to `graceMs`), then closes each feature in reverse order. */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** The context's target for a request refused before routing (nothing reads it). */
const REFUSED_TARGET: CanonicalTarget = {
  authority: "",
  path: "/",
  query: "",
  absoluteForm: false,
  connectionScheme: "http",
  url: "",
};

/** Builds the edge node. */
export function createApp(deps: AppDeps): Edge {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const log = (deps.log ?? silentLogger).child({ region: config.region });
  const metrics = deps.metrics ?? new MetricsRegistry();
  const jobs = new Jobs(log, clock, metrics);
  const conditions = deps.conditions ?? new HealthConditions({
    onCheckError: (name, error) => log.error("health check failed", { check: name, error }),
  });

  // Each feature is built from the same services, and may use what those before it offer.
  const apis = new Map<string, unknown>();
  const svc: Services = {
    config,
    kv: deps.kv,
    clock,
    log,
    metrics,
    jobs,
    fetch: deps.fetch ?? globalThis.fetch,
    conditions,
    nodeId: crypto.randomUUID().slice(0, 8),
    startedAt: clock.now(),
    secrets: deps.secrets ?? {},
    inputs: deps,
    self: (req) => handle(req),
    use: <K extends keyof FeatureApis>(name: K) => (apis.get(name) ?? null) as Api<K> | null,
  };
  const parts: FeatureParts<unknown>[] = [];
  for (const feature of FEATURES) {
    // deno-lint-ignore no-explicit-any
    const built: FeatureParts<unknown> = feature.create(svc, config as any);
    if (built.api !== undefined) apis.set(feature.name, built.api);
    parts.push(built);
  }
  const use = svc.use;

  // Secrets the node runs without: each closes what needs it, and health says degraded.
  const missingSecrets = parts.flatMap((p) => p.missingSecrets ?? []);
  for (const m of missingSecrets) {
    conditions.raise(
      `secret.${m.name}`,
      "degraded",
      `${m.name} is not set: ${m.disables} answer 503`,
    );
  }
  for (const p of parts) {
    for (const spec of p.jobs ?? []) jobs.add(spec);
    for (const [name, check] of Object.entries(p.conditions ?? {})) conditions.check(name, check);
  }

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

  const edgeApp = new Hono<AppEnv>();
  edgeApp.onError(onError);
  edgeApp.notFound(problemNotFound);
  for (const p of parts) if (p.edgeRoutes) edgeApp.route("/", p.edgeRoutes);

  // The stages before the routes (credentials, authorization, tracking), the features' own
  // routes, then what no route answered: A/B, WebSocket relay, cache, origin.
  const mainApp = new Hono<AppEnv>();
  mainApp.onError(onError);
  mainApp.notFound(problemNotFound);
  const phases = Object.keys(PHASES) as Phase[];
  const stagesIn = (phase: Phase): MiddlewareHandler<AppEnv>[] =>
    parts.flatMap((p) => (p.stages ?? []).filter((s) => s.phase === phase).map((s) => s.handler));
  for (const phase of phases.filter((ph) => PHASES[ph] === "before")) {
    for (const handler of stagesIn(phase)) mainApp.use("*", handler);
  }
  for (const p of parts) if (p.routes) mainApp.route("/", p.routes);
  for (const phase of phases.filter((ph) => PHASES[ph] === "after")) {
    for (const handler of stagesIn(phase)) mainApp.all("*", handler);
  }

  const geo = use("geo")!;
  const contexts = new EdgeContexts({
    region: config.region,
    trustedProxies: config.trustedProxies,
    geo: geo.clientGeo,
  });

  // Answers before routing, and whether a routed stage must see a request instead.
  const serves = parts.flatMap((p) => p.fastPath?.serve ? [p.fastPath.serve] : []);
  const vetoes = parts.flatMap((p) => p.fastPath?.veto ? [p.fastPath.veto] : []);
  const routed: RoutedCheck = vetoes.length === 0
    ? () => false
    : (method, path) => vetoes.some((veto) => veto(method, path));
  const stamps = parts.flatMap((p) => p.finish?.stamp ? [p.finish.stamp] : []);
  const records = parts.flatMap((p) => p.finish?.record ? [p.finish.record] : []);
  // How clients reach this process (a trusted proxy's X-Forwarded-Proto may say otherwise).
  const scheme = config.tls ? "https" : "http";

  function handle(raw: Request, info?: ServeInfo): Response | Promise<Response> {
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
    for (let i = 0; i < serves.length; i++) {
      const early = serves[i](req, ctx, routed, info);
      if (early === null) continue;
      if (early instanceof Response) return finish(req, early, ctx);
      return early.then(
        (res) => finish(req, res, ctx),
        (error) => finish(req, problemAnswer(error, req, ctx), ctx),
      );
    }
    // `info.completed` and `info.remoteAddr` are getters with a cost: read them only when used.
    const env = new RequestEnv(ctx, info, raw);
    const res = (segmentIs(target.path, 0, "/_edge") ? edgeApp : mainApp).fetch(req, env);
    return res instanceof Promise ? res.then((r) => finish(req, r, ctx)) : finish(req, res, ctx);
  }

  /** An error of an answer before routing, as the router's error handler would answer it. */
  function problemAnswer(error: unknown, req: Request, ctx: EdgeRequestContext): Response {
    const { response, code } = problemFor(
      error,
      { path: ctx.target.path, requestId: ctx.requestId },
      () => reportUnhandled(error, req, ctx),
    );
    ctx.problem = code;
    return response;
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
   * What features stamp on the answer (what Deno Deploy's CDN may do with it), the node's
   * identity, then the request recorded once (metrics, request log).
   */
  function finish(req: Request, res: Response, ctx: EdgeRequestContext): Response {
    let out = res;
    for (let i = 0; i < stamps.length; i++) out = stamps[i](req, out, ctx);
    const stamped = contexts.stamp(out, ctx);
    for (let i = 0; i < records.length; i++) records[i](req, stamped.status, ctx);
    return stamped;
  }

  const proxy = use("proxy")!;
  const items = use("items")!;
  const crdt = use("crdt")!;
  return {
    fetch: handle,
    config,
    jobs,
    metrics,
    conditions,
    missingSecrets,
    use,
    regions: geo.regions,
    health: proxy.health,
    demo: proxy.demo,
    monitor: use("monitoring")!.monitor,
    analytics: use("analytics")!,
    authz: use("authz"),
    data: { ...items, ...crdt },
    cache: use("cache"),
    functions: use("functions"),
    websocket: use("websocket"),
    platform: use("deploy")!,
    routers: { edge: edgeApp, main: mainApp },
    start() {
      jobs.start();
      for (const p of parts) p.start?.();
    },
    async close(options = {}) {
      await jobs.stop(options.graceMs);
      for (const p of [...parts].reverse()) await p.close?.(options);
    },
  };
}

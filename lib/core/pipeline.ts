/**
 * The way of one request through the node (README, "What a request goes through"): the canonical
 * target and the request's context, the features' answers before routing, the `/_edge/*` router
 * or the main one (stages by phase around the features' own routes), and on the way out what
 * features stamp, the node's identity and the record of the request.
 */

import { type Context, Hono, type MiddlewareHandler } from "hono";
import type { EdgeContexts } from "./context.ts";
import { type FeatureParts, type Phase, PHASES, type RoutedCheck } from "./feature.ts";
import type { Logger } from "./log.ts";
import { type AppEnv, type EdgeRequestContext, RequestEnv, type ServeInfo } from "./request.ts";
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

/** The routers behind the node's handler: `/_edge/*` and everything else. */
export interface Routers {
  edge: Hono<AppEnv>;
  main: Hono<AppEnv>;
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

/** Logs an error no handler expected, with what identifies its request. */
function reporter(log: Logger) {
  return function reportUnhandled(error: unknown, req: Request, ctx: EdgeRequestContext): void {
    log.error("unhandled error", {
      request_id: ctx.requestId,
      method: req.method,
      path: ctx.target.path.slice(0, 200),
      route: ROUTE_GROUPS[routeGroupOf(req.url, req.method)],
      error,
    });
  };
}

/**
 * The routers, from the features' parts in registry order: every `/_edge` sub-app; on the main
 * router the stages before the routes (credentials, authorization, tracking), the features' own
 * routes, then the stages for what no route answered (A/B, WebSocket relay, cache, origin).
 */
export function buildRouters(parts: readonly FeatureParts<unknown>[], log: Logger): Routers {
  const report = reporter(log);
  const onError = problemHandler((error, c: Context<AppEnv>) =>
    report(error, c.req.raw, c.env.ctx)
  );
  const edge = new Hono<AppEnv>();
  const main = new Hono<AppEnv>();
  for (const app of [edge, main]) {
    app.onError(onError);
    app.notFound(problemNotFound);
  }
  for (const p of parts) if (p.edgeRoutes) edge.route("/", p.edgeRoutes);
  const phases = Object.keys(PHASES) as Phase[];
  const stagesIn = (phase: Phase): MiddlewareHandler<AppEnv>[] =>
    parts.flatMap((p) => (p.stages ?? []).filter((s) => s.phase === phase).map((s) => s.handler));
  for (const phase of phases.filter((ph) => PHASES[ph] === "before")) {
    for (const handler of stagesIn(phase)) main.use("*", handler);
  }
  for (const p of parts) if (p.routes) main.route("/", p.routes);
  for (const phase of phases.filter((ph) => PHASES[ph] === "after")) {
    for (const handler of stagesIn(phase)) main.all("*", handler);
  }
  return { edge, main };
}

/** What {@linkcode requestHandler} is made of. */
export interface PipelineOptions {
  /** How clients reach this process (a trusted proxy's X-Forwarded-Proto may say otherwise). */
  scheme: "http" | "https";
  contexts: EdgeContexts;
  parts: readonly FeatureParts<unknown>[];
  routers: Routers;
  log: Logger;
}

/** The node's handler for `Deno.serve` (its second argument carries the peer address). */
export function requestHandler(
  options: PipelineOptions,
): (raw: Request, info?: ServeInfo) => Response | Promise<Response> {
  const { scheme, contexts, parts, routers } = options;
  const report = reporter(options.log);
  // Answers before routing, and whether a routed stage must see a request instead.
  const serves = parts.flatMap((p) => p.fastPath?.serve ? [p.fastPath.serve] : []);
  const vetoes = parts.flatMap((p) => p.fastPath?.veto ? [p.fastPath.veto] : []);
  const routed: RoutedCheck = vetoes.length === 0
    ? () => false
    : (method, path) => vetoes.some((veto) => veto(method, path));
  const stamps = parts.flatMap((p) => p.finish?.stamp ? [p.finish.stamp] : []);
  const records = parts.flatMap((p) => p.finish?.record ? [p.finish.record] : []);

  /** An error of an answer before routing, as the routers' error handler answers it. */
  function problemAnswer(error: unknown, req: Request, ctx: EdgeRequestContext): Response {
    const { response, code } = problemFor(
      error,
      { path: ctx.target.path, requestId: ctx.requestId },
      () => report(error, req, ctx),
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

  return function handle(raw, info) {
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
    const router = segmentIs(target.path, 0, "/_edge") ? routers.edge : routers.main;
    const res = router.fetch(req, env);
    return res instanceof Promise ? res.then((r) => finish(req, r, ctx)) : finish(req, res, ctx);
  };
}

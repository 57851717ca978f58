/**
 * The cache feature: the SWR edge cache (memory and KV tiers, request collapsing, purges that
 * reach every node, hit-for-pass). Fresh memory hits and hit-for-pass URLs are answered before
 * routing unless a routed stage must see the request; the rest in the `cache` stage.
 */

import { Hono } from "hono";
import type { Feature } from "../../core/feature.ts";
import type { AppEnv, EdgeRequestContext, ServeInfo } from "../../core/request.ts";
import { segmentIs } from "../../platform/http/url_path.ts";
import { CACHE_CONFIG, type CACHE_FIELDS } from "./config.ts";
import { EdgeCache, type FastPass } from "./edge_cache.ts";
import { cacheStatsHandler, purgeHandler } from "./routes.ts";

declare module "../../core/feature.ts" {
  interface FeatureApis {
    cache: EdgeCache;
  }
}

const NO_EXPERIMENTS = (): readonly string[] => [];

/** The feature's registration. */
export const cacheFeature: Feature<"cache", typeof CACHE_FIELDS> = {
  name: "cache",
  config: CACHE_CONFIG,
  create(svc, cfg) {
    if (!cfg.cache.enabled) return {};
    const { clock } = svc;
    const proxy = svc.use("proxy")!;
    const { admin } = svc.use("monitoring")!;
    const cache = new EdgeCache({
      config: cfg.cache,
      kv: svc.kv,
      clock,
      log: svc.log.child({ area: "cache" }),
      metrics: svc.metrics,
      region: svc.config.region,
      experimentHeaders: svc.use("ab")?.headersAt ?? NO_EXPERIMENTS,
      forward: (c, request, completed) => proxy.forward(c, { request, completed }),
    });
    let sweeps = 0;

    /**
     * A GET/HEAD for a URL marked hit-for-pass, forwarded before routing: what the router would
     * do for it (the cache's `BYPASS` pass to the origin) without its middleware layers.
     */
    async function passStraight(
      req: Request,
      ctx: EdgeRequestContext,
      info: ServeInfo | undefined,
      pass: FastPass,
    ): Promise<Response> {
      const requestTime = clock.now();
      const forwarded = await proxy.forwardRequest(req, ctx, info?.completed);
      return cache.passed(forwarded, pass, {
        requestTime,
        authorization: req.headers.has("authorization"),
        ctx,
      });
    }

    const edgeRoutes = new Hono<AppEnv>().basePath("/_edge");
    edgeRoutes.post(
      "/purge",
      purgeHandler({ cache, admin, platform: svc.use("deploy")?.purger ?? null }),
    );
    edgeRoutes.get("/cache", cacheStatsHandler(cache, admin));

    return {
      api: cache,
      edgeRoutes,
      stages: [{ phase: "cache", handler: cache.middleware() }],
      fastPath: {
        serve(req, ctx, routed, info) {
          const method = req.method;
          const path = ctx.target.path;
          if (segmentIs(path, 0, "/_edge") || (method !== "GET" && method !== "HEAD")) {
            return null;
          }
          if (routed(method, path)) return null;
          const fast = cache.fast(req, ctx);
          if (fast === null || fast instanceof Response) return fast;
          return passStraight(req, ctx, info, fast);
        },
      },
      jobs: [
        {
          name: "cache-purge-sync",
          intervalMs: cfg.cache.purgePollMs,
          run: () => cache.purger.poll(cfg.cache.purgeWatchedPollMs),
        },
        {
          name: "cache-kv-sweep",
          intervalMs: cfg.cache.kv.sweepSeconds * 1000,
          run: () => cache.sweepKv(sweeps++),
        },
      ],
      start: () => cache.start(),
      warm: () => cache.warm(),
      close: () => cache.close(),
    };
  },
};

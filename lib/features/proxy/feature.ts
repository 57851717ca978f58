/**
 * The proxy feature: forwarding to the nearest healthy origin (circuit breakers, retries on
 * another origin, deadlines), the built-in demo origin when it runs in-process, and the last
 * stage of the pipeline, which answers everything no earlier stage did.
 */

import type { Context } from "hono";
import type { ConditionCheck } from "../../core/conditions.ts";
import type { Feature } from "../../core/feature.ts";
import type { BoundCounter } from "../../core/metrics.ts";
import type { AppEnv, EdgeRequestContext } from "../../core/request.ts";
import { internalFetch } from "../../platform/http/internal_fetch.ts";
import type { CanonicalTarget } from "../../platform/http/target.ts";
import { createDemoOrigin, type DemoOrigin } from "./demo_origin.ts";
import { OriginHealth } from "./breaker.ts";
import { type AttemptOutcome, Forwarder } from "./forward.ts";
import { pathGrouper } from "./path_group.ts";
import { PlainPaths } from "./plain_paths.ts";
import { encodedFetch } from "./encoded_fetch.ts";
import {
  forwardRequest,
  type ForwardRouteOptions,
  forwardToOrigin,
  originProxy,
} from "./routes.ts";
import { PROXY_CONFIG, type PROXY_FIELDS } from "./config.ts";

/** What the proxy offers later features. */
export interface Proxy {
  /** The origins' circuit breakers (WebSocket relays share them). */
  health: OriginHealth;
  /** The in-process demo origin when `demoOrigin.mode` is `internal`. */
  demo: DemoOrigin | null;
  /** Counts one origin attempt (`outpost_origin_attempts_total`). */
  onAttempt(attempt: AttemptOutcome): void;
  /**
   * Forwards the routed request, or `override.request` (a cache fill, a conditional GET, an edge
   * function's `ctx.origin.fetch`), with the request's context.
   */
  forward(
    c: Context<AppEnv>,
    override?: { request: Request; completed?: Promise<void>; target?: CanonicalTarget },
  ): Promise<Response>;
  /** Forwards the client's own request before routing (no router context). */
  forwardRequest(
    req: Request,
    ctx: EdgeRequestContext,
    completed: Promise<void> | undefined,
  ): Promise<Response>;
}

declare module "../../core/feature.ts" {
  interface FeatureApis {
    proxy: Proxy;
  }
  interface FeatureInputs {
    /**
     * How origins are reached instead of the global `fetch` (and `node:http` for requests that
     * ask for a content coding); it must hand encoded bodies over as they are.
     */
    fetch?: typeof fetch;
  }
}

/**
 * How long a path whose origin answered plain is asked for `identity` before it is asked the
 * client's way again (see `PlainPaths`), and how many such paths are kept.
 */
const PLAIN_PATH_TTL_MS = 60_000;
const PLAIN_PATH_ENTRIES = 10_000;

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

/** The feature's registration. */
export const proxyFeature: Feature<"proxy", typeof PROXY_FIELDS> = {
  name: "proxy",
  config: PROXY_CONFIG,
  create(svc, cfg) {
    const { config, clock, log, metrics } = svc;
    const demo = config.demoOrigin.mode === "internal" ? createDemoOrigin({ clock }) : null;
    // Origins are asked for the client's (normalised) encodings, and their encoded bodies pass
    // through as they are: not through the global fetch, which would decode them.
    const upstreamFetch = internalFetch(
      demo ? { demo: (req) => demo.fetch(req) } : {},
      svc.inputs.fetch ?? encodedFetch(globalThis.fetch),
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
    const onAttempt = (a: AttemptOutcome): void => {
      const key = `${a.region}\u0000${a.outcome}`;
      let bound = attemptCounters.get(key);
      if (bound === undefined) {
        bound = attempts.bind({ region: a.region, outcome: a.outcome });
        // Regions come from the config, outcomes from a fixed set: this stays small.
        attemptCounters.set(key, bound);
      }
      bound.inc();
    };
    const breaker = cfg.proxy.breaker;
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
      timeoutMs: cfg.proxy.timeoutMs,
      bodyTimeoutMs: cfg.proxy.bodyTimeoutMs,
      maxAttempts: cfg.proxy.maxAttempts,
      retryBodyLimitBytes: cfg.proxy.retryBodyLimitBytes,
      countStatuses: breaker.countStatuses,
      pathGroup: pathGrouper(breaker.pathGroups),
      onAttempt,
    });
    const options: ForwardRouteOptions = {
      forwarder,
      region: config.region,
      methodOverrideHeaders: new Set<string>(cfg.proxy.methodOverrideHeaders),
      maxBodyBytes: cfg.proxy.maxBodyBytes,
      acceptEncoding: cfg.proxy.acceptEncoding,
      plainPaths: {
        memory: new PlainPaths({ ttlMs: PLAIN_PATH_TTL_MS, maxEntries: PLAIN_PATH_ENTRIES }),
        clock,
      },
    };
    return {
      api: {
        health,
        demo,
        onAttempt,
        forward: (c, override) => forwardToOrigin(c, options, override),
        forwardRequest: (req, ctx, completed) => forwardRequest(req, ctx, completed, options, null),
      },
      stages: [{ phase: "origin", handler: originProxy(options) }],
      conditions: { origins: originsCheck(health, config.regions.map((r) => r.origin)) },
    };
  },
};

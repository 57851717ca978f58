/**
 * `createApp(deps)`: the edge node as a loop over the features of `registry.ts` (their
 * implementations, which importing this module loads: features.ts), plus its lifecycle. No I/O happens at import time; everything the node touches (KV, clock, network, IP
 * database) is passed in.
 *
 * A request first gets its canonical target and context (request id, client, lazy location)
 * outside the router, may be answered before routing (health, a fresh cache hit), then goes to
 * the `/_edge/*` router or the main one, and its answer is stamped on the way out. Keeping those
 * steps out of Hono's middleware chain lets a route with a single synchronous handler answer
 * without a promise at all.
 */

import type { Hono } from "hono";
import type { AppEnv, ServeInfo } from "./request.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { EdgeConfig } from "./config.ts";
import { EdgeContexts } from "./context.ts";
import type { FeatureApis, FeatureInputs, FeatureParts, MissingSecret } from "./feature.ts";
import { FEATURE_IMPLEMENTATIONS } from "./features.ts";
import type { Secrets, Services } from "./services.ts";
import { Jobs } from "./jobs.ts";
import { type Logger, silentLogger } from "./log.ts";
import { HealthConditions } from "./conditions.ts";
import { MetricsRegistry } from "./metrics.ts";
import { buildRouters, requestHandler } from "./pipeline.ts";

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
  /**
   * Loads what the features left out of start-up (see `FeatureParts.warm`); rejects with the
   * first failure, after every feature has tried.
   */
  warm(): Promise<void>;
  /** Stops background jobs (waiting up to `graceMs`), then closes each feature in reverse order. */
  close(options?: { graceMs?: number }): Promise<void>;
}

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
    // The handler is built once every feature is; nothing calls this before.
    self: (req) => handle(req),
    // Likewise built after the features: asked for only when a request needs it.
    routers: () => [routers.edge, routers.main],
    use: <K extends keyof FeatureApis>(name: K) => (apis.get(name) ?? null) as Api<K> | null,
  };
  const parts: FeatureParts<unknown>[] = [];
  for (const feature of FEATURE_IMPLEMENTATIONS) {
    // Each feature takes its own fields out of the whole config.
    const create = feature.create as (svc: Services, cfg: EdgeConfig) => FeatureParts<unknown>;
    const built = create(svc, config);
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

  const routers = buildRouters(parts, log);
  const handle = requestHandler({
    scheme: config.tls ? "https" : "http",
    contexts: new EdgeContexts({
      region: config.region,
      trustedProxies: config.trustedProxies,
      locate: use("geo")!.locate,
    }),
    parts,
    routers,
    log,
  });

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
    regions: use("geo")!.regions,
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
    routers,
    start() {
      jobs.start();
      for (const p of parts) p.start?.();
    },
    async warm() {
      const results = await Promise.allSettled(parts.map((p) => p.warm?.()));
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    },
    async close(options = {}) {
      await jobs.stop(options.graceMs);
      for (const p of [...parts].reverse()) await p.close?.(options);
    },
  };
}

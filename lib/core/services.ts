/**
 * The one bag of dependencies every feature is built from: the validated config, KV, clock, log,
 * metrics, background jobs, health conditions, secrets, and the features built before it.
 */

import type { Hono } from "hono";
import type { HealthConditions } from "./conditions.ts";
import type { AppEnv } from "./request.ts";
import type { Clock } from "./clock.ts";
import type { EdgeConfig } from "./config.ts";
import type { FeatureApis, FeatureInputs } from "./feature.ts";
import type { Jobs } from "./jobs.ts";
import type { Logger } from "./log.ts";
import type { MetricsRegistry } from "./metrics.ts";

/** Secrets by environment variable name (`JWT_SECRET`, `ADMIN_TOKEN` …); never logged. */
export type Secrets = Readonly<Record<string, string | undefined>>;

/** What every feature's `create` gets. */
export interface Services {
  /** The whole validated configuration (a feature's own fields also come as `create`'s `cfg`). */
  config: EdgeConfig;
  kv: Deno.Kv;
  clock: Clock;
  /** The node's logger (a feature makes a child with its `area`). */
  log: Logger;
  metrics: MetricsRegistry;
  jobs: Jobs;
  /** How the node reaches other hosts (collectors, peers, webhooks, key sets). */
  fetch: typeof fetch;
  /** What makes the node degraded or unhealthy whatever its traffic says. */
  conditions: HealthConditions;
  /** This process's id (snapshots, alerts, probes): random per process. */
  nodeId: string;
  /** `clock.now()` when the node was built. */
  startedAt: number;
  secrets: Secrets;
  /** What the process handed in for particular features (see `FeatureInputs`). */
  inputs: FeatureInputs;
  /** The node's own handler, for requests it sends itself (`internal://self`). */
  self(req: Request): Response | Promise<Response>;
  /**
   * The node's routers (`/_edge/*` first, then the main one) once every feature is built: what
   * is actually served, for a feature that describes it (the OpenAPI document).
   */
  routers(): readonly Hono<AppEnv>[];
  /**
   * The api of a feature by name: while features are built, only those built before (registry
   * order); null when that feature is off (or not built yet).
   */
  use<K extends keyof FeatureApis>(name: K): FeatureApis[K] | null;
}

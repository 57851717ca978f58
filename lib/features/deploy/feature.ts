/**
 * The platform feature: what the node knows of where it runs, Deno Deploy's CDN in front of it
 * (responses kept out of it or tagged for it; purges sent to it), and whether its KV is open and
 * really shared. Health reports each.
 */

import type { Clock } from "../../core/clock.ts";
import type { EdgeConfig } from "../../core/config.ts";
import { UNKNOWN_REGION } from "../../core/fields.ts";
import type { Jobs } from "../../core/jobs.ts";
import type { Logger } from "../../core/log.ts";
import type { HealthConditions } from "../../core/conditions.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import { CdnGuard } from "./cdn.ts";
import type { Feature, FeatureApis } from "../../core/feature.ts";
import { PLATFORM_CONFIG, type PLATFORM_FIELDS, type PlatformConfig } from "./config.ts";
import type { EdgeKv } from "./kv.ts";
import { DenoCdnPurger } from "./purge.ts";
import { SharedKvProbe } from "./shared_kv.ts";

/** What the feature is built on. */
export interface PlatformServices {
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  jobs: Jobs;
  conditions: HealthConditions;
  fetch: typeof fetch;
  /** This node's id (health, KV probes). */
  nodeId: string;
  /** Whether authorization guards a request (false for all when it is off). */
  protects: (method: string, path: string) => boolean;
  /** The node's KV as opened by main.ts; tests that hand in a store directly pass none. */
  edgeKv?: EdgeKv;
}

/** The running feature. */
export interface Platform {
  config: PlatformConfig;
  /** Stamps every answer for Deno Deploy's CDN (null when `platform.cdn.guard` is off). */
  cdn: CdnGuard | null;
  /** Purges Deno Deploy's CDN by tag (null without `platform.cdn.purgeUrl`). */
  purger: DenoCdnPurger | null;
  /** What the node does not know about itself, in words, for public health. */
  notes: readonly string[];
  /** The platform's identifiers, for verbose health. */
  identity(): Record<string, unknown>;
  /** Starts the shared-KV probe. */
  start(): void;
}

declare module "../../core/feature.ts" {
  interface FeatureApis {
    deploy: Platform;
  }
  interface FeatureInputs {
    /** How `kv` was opened (main.ts): health reports a store that is not open, or not shared. */
    edgeKv?: EdgeKv;
  }
}

/** The feature's registration. */
export const deployFeature: Feature<"deploy", typeof PLATFORM_FIELDS> = {
  name: "deploy",
  config: PLATFORM_CONFIG,
  create(svc) {
    // Authorization is built later; the CDN guard asks it per request, long after this runs.
    let authz: FeatureApis["authz"] | null | undefined;
    const platform = createPlatform({
      clock: svc.clock,
      log: svc.log,
      metrics: svc.metrics,
      jobs: svc.jobs,
      conditions: svc.conditions,
      fetch: svc.fetch,
      nodeId: svc.nodeId,
      protects: (method, path) => {
        if (authz === undefined) authz = svc.use("authz");
        return authz?.protects(method, path) ?? false;
      },
      edgeKv: svc.inputs.edgeKv,
    }, svc.config);
    const cdn = platform.cdn;
    return {
      api: platform,
      // What Deno Deploy's CDN may do with each answer, before the node's identity is stamped.
      finish: cdn === null ? undefined : { stamp: (req, res, ctx) => cdn.stamp(req, res, ctx) },
      start: () => platform.start(),
    };
  },
};

/** The probe job's name. */
export const SHARED_KV_JOB = "platform.kv-shared";

/** Builds the feature for `config` (the whole config: the region and KV settings matter too). */
export function createPlatform(svc: PlatformServices, config: EdgeConfig): Platform {
  const cfg = config.platform;
  const log = svc.log.child({ area: "platform" });
  const notes: string[] = [];
  if (config.region === UNKNOWN_REGION) {
    notes.push(
      cfg.kind === "deno-deploy"
        ? "region unknown: Deno Deploy gives no region name; set EDGE_REGION when the app runs " +
          "in one region only"
        : "region unknown: set EDGE_REGION (or region in the config module)",
    );
  }
  if (svc.edgeKv) svc.conditions.check("kv.database", svc.edgeKv.check());

  let started = false;
  let probe: SharedKvProbe | null = null;
  // Only the platform's default store can silently be an isolate's own (see shared_kv.ts).
  if (svc.edgeKv?.source === "platform" && cfg.kind === "deno-deploy") {
    const shared = probe = new SharedKvProbe({
      kv: svc.edgeKv.kv,
      clock: svc.clock,
      conditions: svc.conditions,
      log,
      nodeId: svc.nodeId,
    });
    let marked = false;
    svc.jobs.add({
      name: SHARED_KV_JOB,
      intervalMs: 30_000,
      maxBackoffMs: 300_000,
      async run() {
        if (shared.settled) return;
        if (!marked) {
          await shared.start();
          marked = true;
        } else await shared.check();
      },
    });
  }

  return {
    config: cfg,
    cdn: cfg.cdn.guard ? new CdnGuard({ protects: svc.protects }) : null,
    purger: cfg.cdn.purgeUrl === undefined ? null : new DenoCdnPurger({
      url: cfg.cdn.purgeUrl,
      fetch: svc.fetch,
      timeoutMs: cfg.cdn.purgeTimeoutMs,
      clock: svc.clock,
      log,
      metrics: svc.metrics,
      conditions: svc.conditions,
    }),
    notes,
    identity: () => ({
      kind: cfg.kind,
      region_source: cfg.regionSource,
      ...(cfg.deploymentId ? { deployment_id: cfg.deploymentId } : {}),
      ...(cfg.timeline ? { timeline: cfg.timeline } : {}),
      ...(cfg.app ? { app: cfg.app } : {}),
      kv: svc.edgeKv
        ? { source: svc.edgeKv.source, open: svc.edgeKv.open, shared: probe?.settled ?? null }
        : null,
      cdn: { guard: cfg.cdn.guard, purge: cfg.cdn.purgeUrl !== undefined },
    }),
    start() {
      if (started) return;
      started = true;
      if (probe !== null) void svc.jobs.runNow(SHARED_KV_JOB);
    },
  };
}

/**
 * The `platform` section: where the node runs (Deno Deploy or a host of its own), what it knows
 * of its identity there, and how it works with Deno Deploy's CDN. Detected from the variables the
 * platform predefines (docs/deploy.md cites them); the config module may only tune the CDN.
 */

import { z } from "zod";
import type { FeatureConfig, LoadContext } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";
import { isRecord } from "../../platform/config/schemas.ts";

/** Where Deno Deploy's CDN takes invalidations (https://docs.deno.com/deploy/reference/caching). */
export const DENO_CDN_PURGE_URL = "http://cache.localhost/invalidate/http";

/** Deno Deploy sends SIGINT, then SIGKILL 5 s later (https://docs.deno.com/deploy/reference/runtime). */
export const DEPLOY_SHUTDOWN_MS = 4_500;

/** Where the region name came from (health says so when it is unknown). */
export const RegionSourceSchema = z.enum(["EDGE_REGION", "config", "development", "unknown"]);
export type RegionSource = z.infer<typeof RegionSourceSchema>;

/** The platform's own identifiers (plain ids; none is a secret, but only verbose health shows them). */
const IdSchema = z.string().min(1).max(256).optional();

/** The `platform` section. */
export const PlatformConfigSchema = z.object({
  /** `deno-deploy` when the platform's predefined variables say so, else `self-hosted`. */
  kind: z.enum(["deno-deploy", "self-hosted"]),
  /** `DENO_DEPLOYMENT_ID`: app, build, context, variables and database, as one id. */
  deploymentId: IdSchema,
  /** `DENO_TIMELINE`: `production`, `git-branch/<name>` or `preview/<revision>`. */
  timeline: IdSchema,
  /** `DENO_DEPLOY_APP_SLUG`. */
  app: IdSchema,
  regionSource: RegionSourceSchema,
  cdn: z.object({
    /**
     * Keep what authorization guards, what an experiment varies, WebSocket upgrades and the
     * edge's own answers out of Deno Deploy's CDN (`Deno-CDN-Cache-Control: private, no-store`),
     * and tag cacheable answers for purges (`Deno-Cache-Tag`). Default: on Deno Deploy.
     */
    guard: z.boolean(),
    /**
     * Where `POST /_edge/purge` also sends its tags (the platform's invalidation API). Default:
     * the documented endpoint on Deno Deploy, none elsewhere.
     */
    purgeUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
    /** Time one invalidation request may take. */
    purgeTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  }),
  /** Time from SIGINT/SIGTERM to exit: within the platform's 5 s on Deno Deploy. */
  shutdownMs: z.number().int().min(500).max(600_000),
});
/** The validated `platform` section. */
export type PlatformConfig = z.infer<typeof PlatformConfigSchema>;

/** The fields this feature owns. */
export const PLATFORM_FIELDS = {
  /** Where the node runs and how it works with Deno Deploy (lib/features/deploy, docs/deploy.md). */
  platform: PlatformConfigSchema,
};

/**
 * Environment variables of this feature: the operator's (`CDN_*`, `SHUTDOWN_TIMEOUT_MS`) and the
 * identifiers Deno Deploy predefines.
 */
export const PLATFORM_ENV: EnvTable = {
  CDN_GUARD: { path: "platform.cdn.guard", kind: "bool" },
  CDN_PURGE_URL: { path: "platform.cdn.purgeUrl", kind: "string", off: "off" },
  SHUTDOWN_TIMEOUT_MS: { path: "platform.shutdownMs", kind: "int" },
  DENO_DEPLOYMENT_ID: { path: "platform.deploymentId", kind: "string" },
  DENO_TIMELINE: { path: "platform.timeline", kind: "string" },
  DENO_DEPLOY_APP_SLUG: { path: "platform.app", kind: "string" },
};

/**
 * What is detected (where the node runs, where its region name came from) and the defaults that
 * follow from it; the config module may only tune `platform.cdn` and `platform.shutdownMs`.
 */
function platformDefaults(ctx: LoadContext): Record<string, unknown> {
  const given = isRecord(ctx.module.platform) ? ctx.module.platform : {};
  for (const key of Object.keys(given)) {
    if (key !== "cdn" && key !== "shutdownMs") {
      ctx.error(`platform.${key}: Detected from the environment; not configurable`);
    }
  }
  const regionSource: RegionSource = ctx.fromEnv("region")
    ? "EDGE_REGION"
    : ctx.module.region !== undefined
    ? "config"
    : ctx.dev
    ? "development"
    : "unknown";
  return {
    "platform.kind": ctx.onDeploy ? "deno-deploy" : "self-hosted",
    "platform.regionSource": regionSource,
    "platform.cdn.guard": ctx.onDeploy,
    "platform.cdn.purgeUrl": ctx.onDeploy ? DENO_CDN_PURGE_URL : undefined,
    "platform.shutdownMs": ctx.onDeploy ? DEPLOY_SHUTDOWN_MS : 15_000,
  };
}

/** Checks across sections: the shutdown budget must stay within the platform's on Deno Deploy. */
function checkPlatformConfig(
  cfg: { platform: PlatformConfig },
  ctx: z.RefinementCtx,
): void {
  if (cfg.platform.kind === "deno-deploy" && cfg.platform.shutdownMs > 5_000) {
    ctx.addIssue({
      code: "custom",
      path: ["platform", "shutdownMs"],
      message: `Deno Deploy kills the process 5000 ms after SIGINT: ${cfg.platform.shutdownMs}`,
    });
  }
}

/** How the loader reads them. */
export const PLATFORM_CONFIG: FeatureConfig<typeof PLATFORM_FIELDS> = {
  fields: PLATFORM_FIELDS,
  env: PLATFORM_ENV,
  defaults: platformDefaults,
  check: checkPlatformConfig,
};

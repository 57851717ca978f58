/**
 * The `platform` section: where the node runs (Deno Deploy or a host of its own), what it knows
 * of its identity there, and how it works with Deno Deploy's CDN. Detected from the variables the
 * platform predefines (docs/deploy.md cites them); the config module may only tune the CDN.
 */

import { z } from "zod";

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

/** Environment variables of this feature, and the config field each sets. */
export const PLATFORM_ENV_VARS = {
  CDN_GUARD: "platform.cdn.guard",
  CDN_PURGE_URL: "platform.cdn.purgeUrl",
  SHUTDOWN_TIMEOUT_MS: "platform.shutdownMs",
} as const;

type Env = Record<string, string | undefined>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * True on Deno Deploy: `DENO_DEPLOYMENT_ID` is set in every context, and `DENO_DEPLOY` (`true`)
 * in every context and build (https://docs.deno.com/deploy/reference/env_vars_and_contexts).
 */
export function onDenoDeploy(env: Env): boolean {
  if (env.DENO_DEPLOYMENT_ID?.trim()) return true;
  const flag = env.DENO_DEPLOY?.trim().toLowerCase();
  return flag !== undefined && flag !== "" && flag !== "0" && flag !== "false";
}

/**
 * The `platform` input: detected facts, the config module's `platform.cdn` and the environment
 * on top. Unparsable values go to `errors` in the loader's format (`NAME (field): reason`).
 */
export function platformInput(
  file: Record<string, unknown>,
  env: Env,
  context: { regionSource: RegionSource; errors: string[] },
): Record<string, unknown> {
  const deploy = onDenoDeploy(env);
  const filePlatform = isRecord(file.platform) ? file.platform : {};
  for (const key of Object.keys(filePlatform)) {
    if (key !== "cdn" && key !== "shutdownMs") {
      context.errors.push(`platform.${key}: Detected from the environment; not configurable`);
    }
  }
  const fileCdn = isRecord(filePlatform.cdn) ? filePlatform.cdn : {};
  const cdn: Record<string, unknown> = {
    guard: deploy,
    ...(deploy ? { purgeUrl: DENO_CDN_PURGE_URL } : {}),
    ...fileCdn,
  };
  const guard = env.CDN_GUARD?.trim().toLowerCase();
  if (guard) {
    if (["1", "true", "yes", "on"].includes(guard)) cdn.guard = true;
    else if (["0", "false", "no", "off"].includes(guard)) cdn.guard = false;
    else context.errors.push(`CDN_GUARD (platform.cdn.guard): Not a boolean: ${guard}`);
  }
  const purgeUrl = env.CDN_PURGE_URL?.trim();
  if (purgeUrl === "off") delete cdn.purgeUrl;
  else if (purgeUrl) cdn.purgeUrl = purgeUrl;
  let shutdownMs = filePlatform.shutdownMs ?? (deploy ? DEPLOY_SHUTDOWN_MS : 15_000);
  const rawShutdown = env.SHUTDOWN_TIMEOUT_MS?.trim();
  if (rawShutdown) {
    if (/^\d{1,9}$/.test(rawShutdown)) shutdownMs = Number(rawShutdown);
    else {
      context.errors.push(
        `SHUTDOWN_TIMEOUT_MS (platform.shutdownMs): Not an integer: ${rawShutdown}`,
      );
    }
  }
  return {
    kind: deploy ? "deno-deploy" : "self-hosted",
    deploymentId: env.DENO_DEPLOYMENT_ID?.trim() || undefined,
    timeline: env.DENO_TIMELINE?.trim() || undefined,
    app: env.DENO_DEPLOY_APP_SLUG?.trim() || undefined,
    regionSource: context.regionSource,
    cdn,
    shutdownMs,
  };
}

/** Checks across sections: the shutdown budget must stay within the platform's on Deno Deploy. */
export function checkPlatformConfig(
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

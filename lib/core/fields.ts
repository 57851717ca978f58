/**
 * The core fields of the configuration, owned by no feature: the mode, where the node is and
 * how it listens, its KV store, the regions and their origins (and the built-in demo origin),
 * the trusted proxies and the log. Declared like a feature's: schema, variables, defaults.
 */

import { z } from "zod";
import type { EnvTable } from "../platform/config/env.ts";
import {
  baseUrlSchema,
  CidrSchema,
  flagDuplicates,
  isRecord,
  LatitudeSchema,
  LongitudeSchema,
  RegionNameSchema,
} from "../platform/config/schemas.ts";
import type { ConfigOf, FeatureConfig, LoadContext } from "./feature.ts";

/**
 * The node's region when nothing names it (production without `EDGE_REGION`): Deno Deploy gives
 * no region name, and a node must not claim one it was not told. Never a configured region's name.
 */
export const UNKNOWN_REGION = "unknown";

/** An origin base URL: `http(s)://host[:port][/prefix]`, or `internal://demo` (in-process). */
export const OriginUrlSchema = baseUrlSchema("Origin", ["http:", "https:", "internal:"], 2048);

/** One region: where it is and which origin serves it. */
export const RegionSchema = z.object({
  name: RegionNameSchema,
  city: z.string().max(100).optional(),
  lat: LatitudeSchema,
  lon: LongitudeSchema,
  origin: OriginUrlSchema,
});
export type Region = z.infer<typeof RegionSchema>;

/** How the built-in demo origin runs: its own port (dev), in-process (Deno Deploy), or off. */
export const DemoOriginModeSchema = z.enum(["port", "internal", "off"]);

/** The core fields. */
export const CORE_FIELDS = {
  mode: z.enum(["development", "production"]),
  /**
   * The region this node runs in (`X-Served-By`, metrics, replica ids): one of `regions`, or
   * `unknown` when nothing says (routing by geography uses the client's location, not this).
   */
  region: RegionNameSchema,
  port: z.number().int().min(0).max(65535).default(8000),
  /**
   * Whether clients reach this process over TLS (true on Deno Deploy, where the platform
   * terminates it): the scheme of every request unless a trusted proxy says otherwise.
   */
  tls: z.boolean(),
  /** Deno KV path; undefined opens the platform's default database (Deno Deploy). */
  kvPath: z.string().min(1).optional(),
  /**
   * A remote Deno KV every node opens (`Deno.openKv(url)`): a `denokv` server or a Deno Deploy
   * database's KV Connect URL. Its token comes from `DENO_KV_ACCESS_TOKEN` or `KV_ACCESS_TOKEN`.
   */
  kvUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
  /** Where unknown locations and ties are routed; defaults to `region`. */
  defaultRegion: RegionNameSchema.optional(),
  regions: z.array(RegionSchema).min(1).max(64),
  /** Peers (CIDRs) whose forwarding and location headers are believed. */
  trustedProxies: z.array(CidrSchema).max(256),
  demoOrigin: z.object({
    mode: DemoOriginModeSchema,
    port: z.number().int().min(0).max(65535).optional(),
  }),
  log: z.object({
    level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** One JSON line per request. */
    requests: z.boolean().default(false),
  }).prefault({}),
};

/** The validated core fields. */
export type CoreConfig = ConfigOf<typeof CORE_FIELDS>;

/** The article's four regions, used when nothing else is configured. */
export const DEFAULT_REGIONS: ReadonlyArray<Omit<Region, "origin">> = [
  { name: "us-west", city: "San Francisco", lat: 37.7749, lon: -122.4194 },
  { name: "us-east", city: "New York", lat: 40.7128, lon: -74.006 },
  { name: "eu-west", city: "London", lat: 51.5074, lon: -0.1278 },
  { name: "ap-southeast", city: "Singapore", lat: 1.3521, lon: 103.8198 },
];

const LOOPBACK = ["127.0.0.0/8", "::1/128"];

/** The environment variables of the core fields. */
export const CORE_ENV: EnvTable = {
  OUTPOST_MODE: { path: "mode", kind: "string" },
  EDGE_REGION: { path: "region", kind: "string" },
  PORT: { path: "port", kind: "int" },
  KV_PATH: { path: "kvPath", kind: "string" },
  KV_URL: { path: "kvUrl", kind: "string" },
  DEFAULT_REGION: { path: "defaultRegion", kind: "string" },
  ORIGIN_URL: { path: "regions.*.origin", kind: "string" },
  ORIGIN_PORT: { path: "demoOrigin.port", kind: "int" },
  DEMO_ORIGIN: { path: "demoOrigin.mode", kind: "string" },
  TRUSTED_PROXIES: { path: "trustedProxies", kind: "list" },
  LOG_LEVEL: { path: "log.level", kind: "string" },
  LOG_REQUESTS: { path: "log.requests", kind: "bool" },
};

/**
 * True on Deno Deploy: `DENO_DEPLOYMENT_ID` is set in every context, and `DENO_DEPLOY` (`true`)
 * in every context and build (https://docs.deno.com/deploy/reference/env_vars_and_contexts).
 */
export function onDenoDeploy(env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.DENO_DEPLOYMENT_ID?.trim()) return true;
  const flag = env.DENO_DEPLOY?.trim().toLowerCase();
  return flag !== undefined && flag !== "" && flag !== "0" && flag !== "false";
}

/**
 * Production unless development is asked for; development runs the demo's four regions from
 * us-east and trusts loopback proxies. The demo origin runs on PORT+1 (in-process on Deno
 * Deploy) unless an origin is configured; a local KV file unless the platform's or a remote one.
 */
function coreDefaults(ctx: LoadContext): Record<string, unknown> {
  const given = ctx.given("port");
  const port = typeof given === "number" ? given : 8000;
  const moduleRegions = ctx.module.regions;
  const regionsGiveOrigins = Array.isArray(moduleRegions) &&
    moduleRegions.every((r) => isRecord(r) && r.origin !== undefined);
  const demoMode = ctx.given("demoOrigin.mode") ??
    (ctx.given("regions.*.origin") || regionsGiveOrigins
      ? "off"
      : ctx.onDeploy
      ? "internal"
      : "port");
  const originPort = ctx.given("demoOrigin.port") ?? (port === 0 ? 0 : port + 1);
  return {
    mode: "production",
    region: ctx.dev ? "us-east" : UNKNOWN_REGION,
    tls: ctx.onDeploy,
    kvPath: ctx.onDeploy || ctx.given("kvUrl") ? undefined : ".data/outpost.sqlite3",
    regions: DEFAULT_REGIONS,
    "regions.*.origin": demoMode === "internal"
      ? "internal://demo"
      : demoMode === "port"
      ? `http://127.0.0.1:${originPort}`
      : undefined,
    trustedProxies: ctx.dev ? LOOPBACK : [],
    "demoOrigin.mode": demoMode,
    "demoOrigin.port": originPort,
  };
}

/** KV given one way only; region names unique, and the node's and the default one configured. */
function checkCore(cfg: CoreConfig, ctx: z.RefinementCtx): void {
  if (cfg.kvPath !== undefined && cfg.kvUrl !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["kvUrl"],
      message: `Give either a KV path or a KV URL, not both: ${cfg.kvPath}`,
    });
  }
  const names = flagDuplicates(cfg.regions, ctx, {
    name: (r) => r.name,
    path: (i) => ["regions", i, "name"],
    what: "region",
  });
  if (names.has(UNKNOWN_REGION)) {
    ctx.addIssue({
      code: "custom",
      path: ["regions"],
      message: `Reserved for a node whose region nobody named: ${UNKNOWN_REGION}`,
    });
  }
  if (!names.has(cfg.region) && cfg.region !== UNKNOWN_REGION) {
    ctx.addIssue({
      code: "custom",
      path: ["region"],
      message: `Unknown region: ${cfg.region} (known: ${[...names].join(", ")})`,
    });
  }
  if (cfg.defaultRegion !== undefined && !names.has(cfg.defaultRegion)) {
    ctx.addIssue({
      code: "custom",
      path: ["defaultRegion"],
      message: `Unknown region: ${cfg.defaultRegion} (known: ${[...names].join(", ")})`,
    });
  }
}

/** The core fields as the loader reads them, first of every section. */
export const CORE_CONFIG: FeatureConfig<typeof CORE_FIELDS> = {
  fields: CORE_FIELDS,
  env: CORE_ENV,
  defaults: coreDefaults,
  check: checkCore,
};

/**
 * The region unknown client locations and ties go to: `defaultRegion`, else the node's own, else
 * (a node whose region is unknown) the first configured one.
 */
export function defaultRegionOf(
  config: Pick<CoreConfig, "defaultRegion" | "region" | "regions">,
): string {
  if (config.defaultRegion !== undefined) return config.defaultRegion;
  return config.region === UNKNOWN_REGION ? config.regions[0].name : config.region;
}

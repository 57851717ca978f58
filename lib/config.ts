/**
 * The whole configuration as one zod schema, plus the loader that merges defaults, an optional
 * config module and environment variables. Loading is pure: callers pass `env` and the module.
 */

import { z } from "zod";
import { parseCidr } from "./net/ip.ts";
import { CacheConfigSchema, parseByteSize } from "./cache/config.ts";

/** A region name: lower-case letters, digits and dashes, as in `us-west` or `ap-southeast`. */
export const RegionNameSchema = z.string().regex(
  /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/,
  "Must be 1-32 lower-case letters, digits or dashes",
);

const LatitudeSchema = z.number().min(-90).max(90);
const LongitudeSchema = z.number().min(-180).max(180);

/** An origin base URL: `http(s)://host[:port][/prefix]`, or `internal://demo` (in-process). */
export const OriginUrlSchema = z.string().max(2048).transform((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: `Not a URL: ${value}` });
    return z.NEVER;
  }
  if (!["http:", "https:", "internal:"].includes(url.protocol)) {
    ctx.addIssue({ code: "custom", message: `Origin must be http, https or internal: ${value}` });
    return z.NEVER;
  }
  if (url.username || url.password || url.search || url.hash) {
    ctx.addIssue({
      code: "custom",
      message: `Origin must not carry credentials, a query or a fragment: ${value}`,
    });
    return z.NEVER;
  }
  return url.href.replace(/\/+$/, "");
});

/** One region: where it is and which origin serves it. */
export const RegionSchema = z.object({
  name: RegionNameSchema,
  city: z.string().max(100).optional(),
  lat: LatitudeSchema,
  lon: LongitudeSchema,
  origin: OriginUrlSchema,
});
export type Region = z.infer<typeof RegionSchema>;

const CidrSchema = z.string().refine((s) => parseCidr(s) !== null, {
  message: "Not an IP address or CIDR range",
});

const VariantSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "Must be 1-32 letters, digits, _ or -"),
  weight: z.number().positive().max(1_000_000),
});

/** An A/B experiment run at the edge. */
export const ExperimentSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "Must be 1-64 letters, digits, _ or -"),
  /** Path patterns: exact paths, or prefixes ending in `*` (e.g. `/api/*`). */
  paths: z.array(z.string().startsWith("/").max(512)).min(1).default(["/api/*"]),
  cookie: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "Must be a simple cookie name")
    .default("variant"),
  /** Request header that tells the origin the variant. */
  header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "Must be a header name").default("X-Variant"),
  /** Header carrying a stable client id to hash instead of the client IP. */
  idHeader: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "Must be a header name").optional(),
  maxAgeSeconds: z.number().int().positive().max(400 * 86400).default(30 * 86400),
  variants: z.array(VariantSchema).min(2).max(32),
}).superRefine((exp, ctx) => {
  const seen = new Set<string>();
  exp.variants.forEach((v, i) => {
    if (seen.has(v.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["variants", i, "name"],
        message: `Duplicate variant: ${v.name}`,
      });
    }
    seen.add(v.name);
  });
});
export type Experiment = z.infer<typeof ExperimentSchema>;

const GeoPointSchema = z.object({
  lat: LatitudeSchema,
  lon: LongitudeSchema,
  country: z.string().regex(/^[A-Z]{2}$/).optional(),
});

/** Settings for forwarding to origins. */
export const ProxyConfigSchema = z.object({
  /** Time to wait for an origin's response headers. */
  timeoutMs: z.number().int().min(1).max(300_000).default(10_000),
  /** Time allowed for a response body to be delivered once its headers arrived. */
  bodyTimeoutMs: z.number().int().min(1).max(3_600_000).default(300_000),
  /** Idempotent request bodies up to this size are buffered so a failed attempt can be retried. */
  retryBodyLimitBytes: z.number().int().min(0).max(16 * 1024 * 1024).default(1024 * 1024),
  /** How many origins one request may try (the nearest, then the next-nearest healthy ones). */
  maxAttempts: z.number().int().min(1).max(10).default(3),
  breaker: z.object({
    /** Consecutive failures that take an origin out of rotation. */
    failureThreshold: z.number().int().min(1).max(1000).default(3),
    /** How long an origin stays out before one trial request is let through. */
    cooldownMs: z.number().int().min(100).max(3_600_000).default(10_000),
  }).prefault({}),
}).prefault({});

/** How the built-in demo origin runs: its own port (dev), in-process (Deno Deploy), or off. */
export const DemoOriginModeSchema = z.enum(["port", "internal", "off"]);

export const EdgeConfigSchema = z.object({
  mode: z.enum(["development", "production"]),
  /** The region this node runs in; every response says it in `X-Served-By`. */
  region: RegionNameSchema,
  port: z.number().int().min(0).max(65535).default(8000),
  /** Deno KV path; undefined opens the platform's default database (Deno Deploy). */
  kvPath: z.string().min(1).optional(),
  /** Where unknown locations and ties are routed; defaults to `region`. */
  defaultRegion: RegionNameSchema.optional(),
  regions: z.array(RegionSchema).min(1).max(64),
  /** Peers (CIDRs) whose forwarding and location headers are believed. */
  trustedProxies: z.array(CidrSchema).max(256),
  geo: z.object({
    /** Location used when no header or IP lookup gives one. */
    defaultLocation: GeoPointSchema.optional(),
    /** Look client IPs up in the offline IP-to-country database. */
    ipDatabase: z.boolean().default(true),
  }).prefault({}),
  proxy: ProxyConfigSchema,
  /** The SWR edge cache (lib/cache/config.ts). */
  cache: CacheConfigSchema,
  experiments: z.array(ExperimentSchema).max(32).default([]),
  demoOrigin: z.object({
    mode: DemoOriginModeSchema,
    port: z.number().int().min(0).max(65535).optional(),
  }),
  log: z.object({
    level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** One JSON line per request. */
    requests: z.boolean().default(false),
  }).prefault({}),
}).superRefine((cfg, ctx) => {
  const names = new Set<string>();
  cfg.regions.forEach((r, i) => {
    if (names.has(r.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["regions", i, "name"],
        message: `Duplicate region: ${r.name}`,
      });
    }
    names.add(r.name);
  });
  if (!names.has(cfg.region)) {
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
  const cookies = new Map<string, string>();
  const expNames = new Set<string>();
  cfg.experiments.forEach((e, i) => {
    if (expNames.has(e.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["experiments", i, "name"],
        message: `Duplicate experiment: ${e.name}`,
      });
    }
    expNames.add(e.name);
    const other = cookies.get(e.cookie);
    if (other !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["experiments", i, "cookie"],
        message: `Cookie already used by experiment ${other}: ${e.cookie}`,
      });
    }
    cookies.set(e.cookie, e.name);
  });
});

/** The validated configuration. */
export type EdgeConfig = z.infer<typeof EdgeConfigSchema>;
/** What a config module or file may give: any part of the configuration. */
export type EdgeConfigInput = z.input<typeof EdgeConfigSchema>;

/** The article's four regions, used when nothing else is configured. */
export const DEFAULT_REGIONS: ReadonlyArray<Omit<Region, "origin">> = [
  { name: "us-west", city: "San Francisco", lat: 37.7749, lon: -122.4194 },
  { name: "us-east", city: "New York", lat: 40.7128, lon: -74.006 },
  { name: "eu-west", city: "London", lat: 51.5074, lon: -0.1278 },
  { name: "ap-southeast", city: "Singapore", lat: 1.3521, lon: 103.8198 },
];

/** The zero-config experiment: a 50/50 split of `/api/*` into `A` and `B`. */
export const DEFAULT_EXPERIMENTS: EdgeConfigInput["experiments"] = [
  {
    name: "default",
    paths: ["/api/*"],
    variants: [{ name: "A", weight: 1 }, { name: "B", weight: 1 }],
  },
];

const LOOPBACK = ["127.0.0.0/8", "::1/128"];

/** A configuration that cannot start the node; the message names the offending field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Environment variables the loader reads, and the config field each sets. */
export const ENV_VARS = {
  OUTPOST_MODE: "mode",
  EDGE_REGION: "region",
  PORT: "port",
  KV_PATH: "kvPath",
  DEFAULT_REGION: "defaultRegion",
  ORIGIN_URL: "regions.*.origin",
  ORIGIN_PORT: "demoOrigin.port",
  DEMO_ORIGIN: "demoOrigin.mode",
  TRUSTED_PROXIES: "trustedProxies",
  PROXY_TIMEOUT_MS: "proxy.timeoutMs",
  LOG_LEVEL: "log.level",
  LOG_REQUESTS: "log.requests",
  CACHE_MEMORY_BYTES: "cache.memoryBytes",
  CACHE_MAX_BODY_BYTES: "cache.maxBodyBytes",
} as const;

/** Inputs to {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** Environment variables (e.g. `Deno.env.toObject()`). */
  env?: Record<string, string | undefined>;
  /** The config module's default export, if any. */
  module?: unknown;
}

type Env = Record<string, string | undefined>;

function envInt(env: Env, name: string, errors: string[]): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,9}$/.test(raw.trim())) {
    errors.push(`${name} (${ENV_VARS[name as keyof typeof ENV_VARS]}): Not an integer: ${raw}`);
    return undefined;
  }
  return Number(raw.trim());
}

function envBool(env: Env, name: string, errors: string[]): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return undefined;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  errors.push(`${name} (${ENV_VARS[name as keyof typeof ENV_VARS]}): Not a boolean: ${raw}`);
  return undefined;
}

function envBytes(env: Env, name: string, errors: string[]): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const bytes = parseByteSize(raw);
  if (bytes === null) {
    errors.push(`${name} (${ENV_VARS[name as keyof typeof ENV_VARS]}): Not a byte size: ${raw}`);
    return undefined;
  }
  return bytes;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Merges defaults, the config module and environment variables, then validates once.
 * Throws {@linkcode ConfigError} naming the first bad field (and every other one).
 */
export function loadConfig(options: LoadConfigOptions = {}): EdgeConfig {
  const env = options.env ?? {};
  const file = options.module ?? {};
  if (!isRecord(file)) {
    throw new ConfigError("Invalid config: the config module must export an object");
  }
  const errors: string[] = [];

  const onDeploy = Boolean(env.DENO_DEPLOYMENT_ID);
  const mode = env.OUTPOST_MODE?.trim() || (file.mode as string | undefined) ||
    (onDeploy ? "production" : "development");
  const dev = mode === "development";
  const port = envInt(env, "PORT", errors) ?? (file.port as number | undefined) ?? 8000;

  const fileDemo = isRecord(file.demoOrigin) ? file.demoOrigin : {};
  const originPort = envInt(env, "ORIGIN_PORT", errors) ??
    (fileDemo.port as number | undefined) ?? (port === 0 ? 0 : port + 1);

  const fileRegions = Array.isArray(file.regions) ? file.regions : undefined;
  const originUrl = env.ORIGIN_URL?.trim() || undefined;
  const regionsGiveOrigins = fileRegions?.every((r) => isRecord(r) && r.origin !== undefined);
  const demoMode = env.DEMO_ORIGIN?.trim() || (fileDemo.mode as string | undefined) ||
    (originUrl || regionsGiveOrigins ? "off" : onDeploy ? "internal" : "port");
  const demoUrl = demoMode === "internal"
    ? "internal://demo"
    : demoMode === "port"
    ? `http://127.0.0.1:${originPort}`
    : undefined;

  const regions = (fileRegions ?? DEFAULT_REGIONS).map((r) => {
    if (!isRecord(r)) return r;
    const origin = originUrl ?? r.origin ?? demoUrl;
    return origin === undefined ? r : { ...r, origin };
  });

  const trusted = env.TRUSTED_PROXIES !== undefined
    ? env.TRUSTED_PROXIES.split(",").map((s) => s.trim()).filter(Boolean)
    : (file.trustedProxies ?? (dev ? LOOPBACK : []));

  const fileProxy = isRecord(file.proxy) ? file.proxy : {};
  const fileLog = isRecord(file.log) ? file.log : {};
  const timeoutMs = envInt(env, "PROXY_TIMEOUT_MS", errors);
  const logRequests = envBool(env, "LOG_REQUESTS", errors);

  const fileCache = isRecord(file.cache) ? file.cache : {};
  const cacheMemory = envBytes(env, "CACHE_MEMORY_BYTES", errors);
  const cacheMaxBody = envBytes(env, "CACHE_MAX_BODY_BYTES", errors);

  const merged: Record<string, unknown> = {
    ...file,
    mode,
    region: env.EDGE_REGION?.trim() || file.region || "us-east",
    port,
    kvPath: env.KV_PATH?.trim() || file.kvPath || (onDeploy ? undefined : ".data/outpost.sqlite3"),
    defaultRegion: env.DEFAULT_REGION?.trim() || file.defaultRegion,
    regions,
    trustedProxies: trusted,
    experiments: file.experiments ?? DEFAULT_EXPERIMENTS,
    demoOrigin: { ...fileDemo, mode: demoMode, port: originPort },
    proxy: { ...fileProxy, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
    cache: {
      ...fileCache,
      ...(cacheMemory !== undefined ? { memoryBytes: cacheMemory } : {}),
      ...(cacheMaxBody !== undefined ? { maxBodyBytes: cacheMaxBody } : {}),
    },
    log: {
      ...fileLog,
      ...(env.LOG_LEVEL ? { level: env.LOG_LEVEL.trim() } : {}),
      ...(logRequests !== undefined ? { requests: logRequests } : {}),
    },
  };

  const result = EdgeConfigSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map(String).join(".") || "(root)";
      const envName = envNameFor(path, env);
      errors.push(`${path}${envName ? ` (from ${envName})` : ""}: ${issue.message}`);
    }
  }
  if (errors.length > 0) {
    throw new ConfigError(`Invalid config: ${errors.join("; ")}`);
  }
  return result.data!;
}

function envNameFor(path: string, env: Env): string | undefined {
  for (const [name, field] of Object.entries(ENV_VARS)) {
    if (env[name] === undefined) continue;
    const pattern = new RegExp(`^${field.replaceAll(".", "\\.").replaceAll("*", "\\d+")}(\\.|$)`);
    if (pattern.test(path)) return name;
  }
  return undefined;
}

/** The region a node falls back to for unknown locations and ties. */
export function defaultRegionOf(config: EdgeConfig): string {
  return config.defaultRegion ?? config.region;
}

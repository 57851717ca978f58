/**
 * The whole configuration as one zod schema, plus the loader that merges defaults, an optional
 * config module and environment variables. Loading is pure: callers pass `env` and the module.
 */

import { z } from "zod";
import { parseCidr } from "./net/ip.ts";
import {
  ANALYTICS_ENV_VARS,
  AnalyticsConfigSchema,
  analyticsInput,
  checkAnalyticsConfig,
  RoleSchema,
} from "./analytics/config.ts";
import { AuthzConfigSchema } from "./authz/config.ts";
import { ReplicaIdSchema } from "./crdt/names.ts";
import { CacheConfigSchema, parseByteSize } from "./cache/config.ts";
import { DocsConfigSchema } from "./openapi/config.ts";
import {
  FUNCTIONS_ENV_VARS,
  FunctionsConfigSchema,
  functionsInput,
} from "./features/functions/config.ts";
import {
  checkPlatformConfig,
  onDenoDeploy,
  PLATFORM_ENV_VARS,
  PlatformConfigSchema,
  platformInput,
  type RegionSource,
} from "./features/platform/config.ts";
import {
  WEBSOCKET_ENV_VARS,
  WebSocketConfigSchema,
  websocketInput,
} from "./features/websocket/config.ts";

/**
 * The node's region when nothing names it (production without `EDGE_REGION`): Deno Deploy gives
 * no region name, and a node must not claim one it was not told. Never a configured region's name.
 */
export const UNKNOWN_REGION = "unknown";

/** A region name: lower-case letters, digits and dashes, as in `us-west` or `ap-southeast`. */
export const RegionNameSchema = z.string().regex(
  /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/,
  "Must be 1-32 lower-case letters, digits or dashes",
);

const LatitudeSchema = z.number().min(-90).max(90);
const LongitudeSchema = z.number().min(-180).max(180);

/**
 * A base URL (`scheme://host[:port][/prefix]`) with one of `protocols`, no credentials, query or
 * fragment; normalised without a trailing slash. `what` names it in messages ("Origin", "Peer").
 */
export function baseUrlSchema(what: string, protocols: readonly string[], maxLength: number) {
  const names = protocols.map((p) => p.replace(/:$/, ""));
  const allowed = names.length > 1
    ? `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`
    : names[0];
  return z.string().max(maxLength).transform((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: "custom", message: `Not a URL: ${value}` });
      return z.NEVER;
    }
    if (!protocols.includes(url.protocol)) {
      ctx.addIssue({ code: "custom", message: `${what} must be ${allowed}: ${value}` });
      return z.NEVER;
    }
    if (url.username || url.password || url.search || url.hash) {
      ctx.addIssue({
        code: "custom",
        message: `${what} must not carry credentials, a query or a fragment: ${value}`,
      });
      return z.NEVER;
    }
    return url.href.replace(/\/+$/, "");
  });
}

/** An origin base URL: `http(s)://host[:port][/prefix]`, or `internal://demo` (in-process). */
export const OriginUrlSchema = baseUrlSchema("Origin", ["http:", "https:", "internal:"], 2048);

/** Adds an issue for every item whose name repeats an earlier one (`path(i)` points at it). */
export function flagDuplicates<T>(
  items: readonly T[],
  ctx: z.RefinementCtx,
  options: { name: (item: T) => string; path: (i: number) => (string | number)[]; what: string },
): Set<string> {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const name = options.name(item);
    if (seen.has(name)) {
      ctx.addIssue({
        code: "custom",
        path: options.path(i),
        message: `Duplicate ${options.what}: ${name}`,
      });
    }
    seen.add(name);
  });
  return seen;
}

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
  flagDuplicates(exp.variants, ctx, {
    name: (v) => v.name,
    path: (i) => ["variants", i, "name"],
    what: "variant",
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
  /** Largest request body forwarded to an origin (413 problem+json past it). */
  maxBodyBytes: z.number().int().min(0).max(1024 ** 3).default(10 * 1024 * 1024),
  /**
   * What origins are asked for: `client` forwards the client's `Accept-Encoding` normalised
   * (`br, gzip`, `gzip`, `identity`) and passes encoded bodies through (HTTP/1.1 through
   * node:http, about 0.3-0.5 ms more per request than the global fetch); `identity` asks for
   * plain bodies (the global fetch, HTTP/2), and the cache compresses what it stores itself.
   */
  acceptEncoding: z.enum(["client", "identity"]).default("client"),
  /**
   * Method-override headers (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`)
   * passed to the origin on POST requests, for origins that tunnel methods through POST; the edge
   * then authorizes the overridden method. Every override header not listed is removed.
   */
  methodOverrideHeaders: z.array(
    z.string().toLowerCase().pipe(
      z.enum(["x-http-method-override", "x-http-method", "x-method-override"]),
    ),
  ).max(3).default([]),
  breaker: z.object({
    /** Consecutive failures that take an origin (or, for statuses, a path group) out. */
    failureThreshold: z.number().int().min(1).max(1000).default(3),
    /** How long an origin stays out, while others can serve, before one trial request. */
    cooldownMs: z.number().int().min(100).max(3_600_000).default(10_000),
    /**
     * Origin answers that count as failures, per origin and path group (default none: only
     * transport failures count; an origin answering 5xx is answering).
     */
    countStatuses: z.array(z.number().int().min(500).max(599)).max(100).default([]),
    /**
     * Path groups for `countStatuses`: exact paths or prefixes ending in `*`; the first that
     * matches names the group. Other paths group by their first segment (`/status/500` →
     * `/status`).
     */
    pathGroups: z.array(z.string().startsWith("/").max(512)).max(1000).default([]),
    /**
     * Every candidate out of rotation: `panic` sends every request anyway (the edge never
     * refuses by itself); `probe` sends one at once as a trial, and the next as soon as it
     * finished, while others get 503 (less load on a dead origin).
     */
    whenAllOut: z.enum(["panic", "probe"]).default("panic"),
  }).prefault({}),
}).prefault({});

/** Monitoring: recording, the sliding window, health thresholds, snapshots, alerts, access. */
export const MetricsConfigSchema = z.object({
  /** Record every request (off: `/_edge/metrics` shows only what other areas count). */
  enabled: z.boolean().default(true),
  /** Length of the sliding window behind health and "now" figures. */
  windowMs: z.number().int().min(1000).max(3_600_000).default(300_000),
  /** Length of one slot of the window (the window is a ring of them). */
  slotMs: z.number().int().min(100).max(600_000).default(10_000),
  /** How often this node writes its snapshot to KV for `/_edge/stats`. */
  snapshotIntervalMs: z.number().int().min(200).max(600_000).default(10_000),
  /** How long a snapshot counts as live (KV `expireIn`; checked on read too). */
  snapshotTtlMs: z.number().int().min(1000).max(3_600_000).default(60_000),
  health: z.object({
    /** Unhealthy at or above this share of 5xx answers in the window. */
    maxErrorRate: z.number().min(0).max(1).default(0.01),
    /** Unhealthy at or above this p99 latency in the window. */
    maxP99Ms: z.number().positive().max(3_600_000).default(200),
    /**
     * The latency the window counts: `total` (what the client waited) or `edge` (minus the time
     * spent waiting for origins), for an edge far from its origin.
     */
    latency: z.enum(["total", "edge"]).default("total"),
    /**
     * Count 5xx passed through from origins in the error rate too (default: only 5xx the edge
     * made itself; an origin's errors are shown separately).
     */
    countOriginErrors: z.boolean().default(false),
    /** Fewer requests than this in the window: too few to judge, counted as healthy. */
    minRequests: z.number().int().min(0).max(1_000_000).default(20),
    /** How often health is evaluated in the background (for transitions and alerts). */
    checkIntervalMs: z.number().int().min(100).max(600_000).default(5_000),
  }).prefault({}),
  alerts: z.object({
    /** POSTed a JSON alert on every healthy ↔ unhealthy transition (`ALERT_WEBHOOK_URL`). */
    webhookUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
    /** Time allowed for one delivery attempt. */
    timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** Undelivered alerts kept (oldest dropped past this). */
    maxPending: z.number().int().min(1).max(10_000).default(100),
  }).prefault({}),
  /** Bearer token for the dashboard, stats and metrics (`ADMIN_TOKEN`; environment only). */
  adminToken: z.string().min(16, "Must be at least 16 characters").max(512).optional(),
}).superRefine((m, ctx) => {
  if (m.windowMs % m.slotMs !== 0) {
    ctx.addIssue({
      code: "custom",
      path: ["windowMs"],
      message: `Must be a whole number of slots of ${m.slotMs} ms: ${m.windowMs}`,
    });
  }
  if (m.windowMs / m.slotMs > 360) {
    ctx.addIssue({
      code: "custom",
      path: ["slotMs"],
      message: `At most 360 slots per window (${m.windowMs} ms): ${m.slotMs}`,
    });
  }
  if (m.snapshotTtlMs <= m.snapshotIntervalMs) {
    ctx.addIssue({
      code: "custom",
      path: ["snapshotTtlMs"],
      message: `Must exceed snapshotIntervalMs (${m.snapshotIntervalMs}): ${m.snapshotTtlMs}`,
    });
  }
}).prefault({});

/** A sync peer's base URL: `http(s)://host[:port][/prefix]`, no credentials, query or fragment. */
export const PeerUrlSchema = baseUrlSchema("Peer", ["http:", "https:"], 512);

/** Pattern 1: items read from the edge's memory, written to the central copy in KV. */
export const DataConfigSchema = z.object({
  /** Which schema PUT bodies must match: any JSON, a JSON object, or a flat object. */
  itemSchema: z.enum(["json", "object", "flat-object"]).default("json"),
  /** Largest item body; items over 60 KiB are stored in chunks. */
  maxBodyBytes: z.number().int().min(16).max(512 * 1024).default(64 * 1024),
  /** No node serves a cached item older than the last write for longer than this. */
  maxStalenessMs: z.number().int().min(100).max(3_600_000).default(2000),
  /** The polling fallback while `kv.watch` is not delivering; at most half of `maxStalenessMs`. */
  pollIntervalMs: z.number().int().min(20).max(1_800_000).default(500),
  /** How often changes are polled anyway while `kv.watch` delivers (a safety net). */
  watchedPollIntervalMs: z.number().int().min(20).max(3_600_000).default(30_000),
  cacheMaxEntries: z.number().int().min(1).max(10_000_000).default(10_000),
  cacheMaxBytes: z.number().int().min(1024).max(4 * 1024 ** 3).default(32 * 1024 ** 2),
  /** How long change records are kept (they are a trigger, not the data). */
  changeRetentionMs: z.number().int().min(10_000).max(7 * 86_400_000).default(600_000),
}).refine((d) => d.pollIntervalMs * 2 <= d.maxStalenessMs, {
  path: ["pollIntervalMs"],
  message: "Must be at most half of data.maxStalenessMs",
}).prefault({});

/** Pattern 2: CRDTs kept per replica in KV. */
export const CrdtConfigSchema = z.object({
  /** This node's replica id; default `<region>-<random id of this KV database>`. */
  replicaId: ReplicaIdSchema.optional(),
  /** Largest `by` of one increment or decrement. */
  maxStep: z.number().int().min(1).max(1e12).default(1_000_000),
  /** Most elements a set takes from local adds. */
  maxSetElements: z.number().int().min(1).max(1_000_000).default(100_000),
  /** Largest register value (JSON bytes). */
  maxRegisterBytes: z.number().int().min(16).max(60_000).default(16 * 1024),
  /** Remote register timestamps further ahead of our clock than this are refused. */
  maxClockDriftMs: z.number().int().min(1000).max(86_400_000).default(60_000),
}).prefault({});

/** Anti-entropy between nodes: who the peers are and how often state is pushed to them. */
export const SyncConfigSchema = z.object({
  peers: z.array(PeerUrlSchema).max(64).default([]),
  /** Shared secret for `POST /_edge/sync` (only from `SYNC_TOKEN`). */
  token: z.string().min(16, "Must be at least 16 characters").max(512).optional(),
  intervalMs: z.number().int().min(50).max(3_600_000).default(1000),
  timeoutMs: z.number().int().min(100).max(120_000).default(5000),
  maxBackoffMs: z.number().int().min(100).max(86_400_000).default(60_000),
  /** A full-state exchange with each peer at least this often (deltas in between). */
  fullEveryMs: z.number().int().min(1000).max(7 * 86_400_000).default(300_000),
  /** Local operations are kept this long for deltas; a peer further behind gets full state. */
  logRetentionMs: z.number().int().min(60_000).max(30 * 86_400_000).default(3_600_000),
  maxBodyBytes: z.number().int().min(4096).max(32 * 1024 ** 2).default(4 * 1024 ** 2),
}).prefault({});

/** How the built-in demo origin runs: its own port (dev), in-process (Deno Deploy), or off. */
export const DemoOriginModeSchema = z.enum(["port", "internal", "off"]);

export const EdgeConfigSchema = z.object({
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
  data: DataConfigSchema,
  crdt: CrdtConfigSchema,
  sync: SyncConfigSchema,
  log: z.object({
    level: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** One JSON line per request. */
    requests: z.boolean().default(false),
  }).prefault({}),
  /** Analytics halves this node runs (`OUTPOST_ROLE`): `edge`, `central` or `both`. */
  role: RoleSchema.default("both"),
  analytics: AnalyticsConfigSchema,
  /** Authorization of protected routes (lib/authz, docs/authz.md). */
  authz: AuthzConfigSchema,
  metrics: MetricsConfigSchema,
  /** The OpenAPI document and Swagger UI (lib/openapi/config.ts). */
  docs: DocsConfigSchema,
  /** Users' edge functions (lib/features/functions, docs/functions.md). */
  functions: FunctionsConfigSchema,
  /** WebSockets through the edge (lib/features/websocket, docs/http-api.md#websockets). */
  websocket: WebSocketConfigSchema,
  /** Where the node runs and how it works with Deno Deploy (lib/features/platform, docs/deploy.md). */
  platform: PlatformConfigSchema,
}).superRefine((cfg, ctx) => {
  checkAnalyticsConfig(cfg, ctx);
  checkPlatformConfig(cfg, ctx);
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
  flagDuplicates(cfg.experiments, ctx, {
    name: (e) => e.name,
    path: (i) => ["experiments", i, "name"],
    what: "experiment",
  });
  const cookies = new Map<string, string>();
  cfg.experiments.forEach((e, i) => {
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
  KV_URL: "kvUrl",
  DEFAULT_REGION: "defaultRegion",
  ORIGIN_URL: "regions.*.origin",
  ORIGIN_PORT: "demoOrigin.port",
  DEMO_ORIGIN: "demoOrigin.mode",
  TRUSTED_PROXIES: "trustedProxies",
  PROXY_TIMEOUT_MS: "proxy.timeoutMs",
  PROXY_MAX_BODY_BYTES: "proxy.maxBodyBytes",
  LOG_LEVEL: "log.level",
  LOG_REQUESTS: "log.requests",
  ...ANALYTICS_ENV_VARS,
  AUTHZ_ENABLED: "authz.enabled",
  AUTHZ_POLICY: "authz.policy",
  METRICS_ENABLED: "metrics.enabled",
  HEALTH_MAX_ERROR_RATE: "metrics.health.maxErrorRate",
  HEALTH_MAX_P99_MS: "metrics.health.maxP99Ms",
  HEALTH_LATENCY: "metrics.health.latency",
  ALERT_WEBHOOK_URL: "metrics.alerts.webhookUrl",
  ADMIN_TOKEN: "metrics.adminToken",
  ITEMS_MAX_STALENESS_MS: "data.maxStalenessMs",
  REPLICA_ID: "crdt.replicaId",
  SYNC_PEERS: "sync.peers",
  SYNC_TOKEN: "sync.token",
  SYNC_INTERVAL_MS: "sync.intervalMs",
  CACHE_MEMORY_BYTES: "cache.memoryBytes",
  CACHE_MAX_BODY_BYTES: "cache.maxBodyBytes",
  CACHE_KV_MAX_BYTES: "cache.kv.maxBytes",
  ...FUNCTIONS_ENV_VARS,
  ...WEBSOCKET_ENV_VARS,
  ...PLATFORM_ENV_VARS,
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

function envNumber(env: Env, name: string, errors: string[]): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n)) {
    errors.push(`${name} (${ENV_VARS[name as keyof typeof ENV_VARS]}): Not a number: ${raw}`);
    return undefined;
  }
  return n;
}

/** The `metrics` section: the module's, then the environment's (the admin token only from env). */
function metricsSection(file: Record<string, unknown>, env: Env, errors: string[]): unknown {
  const m = isRecord(file.metrics) ? file.metrics : {};
  if (m.adminToken !== undefined) {
    errors.push("metrics.adminToken: Set ADMIN_TOKEN in the environment, not in the config module");
  }
  const enabled = envBool(env, "METRICS_ENABLED", errors);
  const maxErrorRate = envNumber(env, "HEALTH_MAX_ERROR_RATE", errors);
  const maxP99Ms = envNumber(env, "HEALTH_MAX_P99_MS", errors);
  const latency = env.HEALTH_LATENCY?.trim() || undefined;
  const webhookUrl = env.ALERT_WEBHOOK_URL?.trim() || undefined;
  const adminToken = env.ADMIN_TOKEN?.trim() || undefined;
  const health = isRecord(m.health) ? m.health : {};
  const alerts = isRecord(m.alerts) ? m.alerts : {};
  return {
    ...m,
    ...(enabled !== undefined ? { enabled } : {}),
    health: {
      ...health,
      ...(maxErrorRate !== undefined ? { maxErrorRate } : {}),
      ...(maxP99Ms !== undefined ? { maxP99Ms } : {}),
      ...(latency !== undefined ? { latency } : {}),
    },
    alerts: { ...alerts, ...(webhookUrl ? { webhookUrl } : {}) },
    adminToken,
  };
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

  const onDeploy = onDenoDeploy(env);
  // Production unless development is asked for (`deno task dev` sets OUTPOST_MODE=development).
  const mode = env.OUTPOST_MODE?.trim() || (file.mode as string | undefined) || "production";
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
  const maxBodyBytes = envBytes(env, "PROXY_MAX_BODY_BYTES", errors);
  const logRequests = envBool(env, "LOG_REQUESTS", errors);

  const analytics = analyticsInput(file, env, { dev, onDeploy, errors });
  // Edge data (items, CRDTs, sync): the secret comes only from the environment.
  const fileData = isRecord(file.data) ? file.data : {};
  const fileCrdt = isRecord(file.crdt) ? file.crdt : {};
  const fileSync = isRecord(file.sync) ? file.sync : {};
  if ("token" in fileSync) {
    errors.push("sync.token: Must come from the SYNC_TOKEN environment variable");
  }
  const staleness = envInt(env, "ITEMS_MAX_STALENESS_MS", errors);
  const syncInterval = envInt(env, "SYNC_INTERVAL_MS", errors);
  const data = { ...fileData, ...(staleness !== undefined ? { maxStalenessMs: staleness } : {}) };
  const crdt = {
    ...fileCrdt,
    ...(env.REPLICA_ID?.trim() ? { replicaId: env.REPLICA_ID.trim() } : {}),
  };
  const { token: _ignored, ...syncRest } = fileSync;
  const sync = {
    ...syncRest,
    ...(env.SYNC_PEERS !== undefined
      ? { peers: env.SYNC_PEERS.split(",").map((s) => s.trim()).filter(Boolean) }
      : {}),
    ...(env.SYNC_TOKEN ? { token: env.SYNC_TOKEN } : {}),
    ...(syncInterval !== undefined ? { intervalMs: syncInterval } : {}),
  };
  const fileCache = isRecord(file.cache) ? file.cache : {};
  const cacheMemory = envBytes(env, "CACHE_MEMORY_BYTES", errors);
  const cacheMaxBody = envBytes(env, "CACHE_MAX_BODY_BYTES", errors);
  const cacheKvMax = envBytes(env, "CACHE_KV_MAX_BYTES", errors);
  const fileCacheKv = isRecord(fileCache.kv) ? fileCache.kv : {};

  // The region is what someone said it is; development runs the demo's four regions from us-east.
  const envRegion = env.EDGE_REGION?.trim();
  const [region, regionSource]: [unknown, RegionSource] = envRegion
    ? [envRegion, "EDGE_REGION"]
    : file.region !== undefined
    ? [file.region, "config"]
    : dev
    ? ["us-east", "development"]
    : [UNKNOWN_REGION, "unknown"];
  const kvUrl = env.KV_URL?.trim() || file.kvUrl;
  const platform = platformInput(file, env, { regionSource, errors });

  const merged: Record<string, unknown> = {
    ...file,
    ...analytics,
    mode,
    region,
    port,
    tls: file.tls ?? onDeploy,
    kvUrl,
    kvPath: env.KV_PATH?.trim() || file.kvPath ||
      (onDeploy || kvUrl ? undefined : ".data/outpost.sqlite3"),
    platform,
    defaultRegion: env.DEFAULT_REGION?.trim() || file.defaultRegion,
    regions,
    trustedProxies: trusted,
    experiments: file.experiments ?? DEFAULT_EXPERIMENTS,
    demoOrigin: { ...fileDemo, mode: demoMode, port: originPort },
    proxy: {
      ...fileProxy,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    },
    data,
    crdt,
    sync,
    cache: {
      ...fileCache,
      ...(cacheMemory !== undefined ? { memoryBytes: cacheMemory } : {}),
      ...(cacheMaxBody !== undefined ? { maxBodyBytes: cacheMaxBody } : {}),
      ...(cacheKvMax !== undefined ? { kv: { ...fileCacheKv, maxBytes: cacheKvMax } } : {}),
    },
    log: {
      ...fileLog,
      ...(env.LOG_LEVEL ? { level: env.LOG_LEVEL.trim() } : {}),
      ...(logRequests !== undefined ? { requests: logRequests } : {}),
    },
    metrics: metricsSection(file, env, errors),
    functions: functionsInput(file, env, errors),
    websocket: websocketInput(file, env, errors),
  };

  merged.authz = authzFromEnv(env, file.authz, errors);

  // Parsed once per process: zod's JIT would compile a fast path for every object in the
  // schema first, which costs start-up more than this one parse (jitless: same result).
  const result = EdgeConfigSchema.safeParse(merged, { jitless: true });
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

/**
 * `AUTHZ_ENABLED` and `AUTHZ_POLICY` (inline JSON when it starts with `{`, else a file path) over
 * the config module's `authz` section. `JWT_SECRET` is not config: main.ts passes it to the app.
 */
function authzFromEnv(env: Env, fileAuthz: unknown, errors: string[]): unknown {
  const enabled = envBool(env, "AUTHZ_ENABLED", errors);
  const raw = env.AUTHZ_POLICY?.trim();
  if (enabled === undefined && !raw) return fileAuthz;
  const authz: Record<string, unknown> = isRecord(fileAuthz) ? { ...fileAuthz } : {};
  if (enabled !== undefined) authz.enabled = enabled;
  if (raw?.startsWith("{")) {
    try {
      authz.policy = JSON.parse(raw);
      delete authz.policyPath;
    } catch (e) {
      errors.push(`AUTHZ_POLICY (authz.policy): Not valid JSON: ${(e as Error).message}`);
    }
  } else if (raw) {
    authz.policyPath = raw;
    delete authz.policy;
  }
  return authz;
}

function envNameFor(path: string, env: Env): string | undefined {
  for (const [name, field] of Object.entries(ENV_VARS)) {
    if (env[name] === undefined) continue;
    const pattern = new RegExp(`^${field.replaceAll(".", "\\.").replaceAll("*", "\\d+")}(\\.|$)`);
    if (pattern.test(path)) return name;
  }
  return undefined;
}

/**
 * The region unknown client locations and ties go to: `defaultRegion`, else the node's own, else
 * (a node whose region is unknown) the first configured one.
 */
export function defaultRegionOf(config: EdgeConfig): string {
  if (config.defaultRegion !== undefined) return config.defaultRegion;
  return config.region === UNKNOWN_REGION ? config.regions[0].name : config.region;
}

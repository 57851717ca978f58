/** The `cache` section of the config: budgets, freshness defaults, keys, per-route overrides. */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";
import { splitDirectives } from "./directives.ts";

const MiB = 1024 * 1024;
const Seconds = z.number().int().min(0).max(10 * 365 * 86400);

/** `off`, `derive` (from the edge's own freshness), or a literal Cache-Control value. */
export const DenoCdnCacheControlSchema = z.string().min(1).max(512).refine(
  (v) => v === "off" || v === "derive" || splitDirectives(v).length > 0,
  { message: 'Must be "off", "derive" or Cache-Control directives' },
);

/** A custom key function: the request and its URL in, the key's URL part out. */
export type CacheKeyFunction = (req: Request, url: URL) => string;

/** Settings for the paths a route matches (the first matching route wins). */
export const CacheRouteSchema = z.object({
  /** Exact paths or prefixes ending in `*`. */
  paths: z.array(z.string().startsWith("/").max(512)).min(1).max(100),
  /** Never cache these paths (forwarded with `X-Cache: BYPASS`). */
  bypass: z.boolean().default(false),
  /** Freshness lifetime that replaces the origin's (no-store, private etc. still apply). */
  ttlSeconds: Seconds.optional(),
  /** Lifetime when the origin gives none. */
  defaultTtlSeconds: Seconds.optional(),
  /** Windows that replace the origin's. */
  staleWhileRevalidateSeconds: Seconds.optional(),
  staleIfErrorSeconds: Seconds.optional(),
  ignoreQueryParams: z.array(z.string().min(1).max(128)).max(100).optional(),
  sortQuery: z.boolean().optional(),
  ignoreHost: z.boolean().optional(),
  /** Custom key (config modules only): `(req, url) => string`. */
  key: z.custom<CacheKeyFunction>((v) => typeof v === "function", {
    message: "Must be a function (req, url) => string",
  }).optional(),
  denoCdnCacheControl: DenoCdnCacheControlSchema.optional(),
});
/** One route's cache settings. */
export type CacheRoute = z.infer<typeof CacheRouteSchema>;

/** The cache's configuration. */
export const CacheConfigSchema = z.object({
  enabled: z.boolean().default(true),
  /** Byte budget of the isolate's memory tier; 0 turns it off (KV only). */
  memoryBytes: z.number().int().min(0).max(16 * 1024 * MiB).default(64 * MiB),
  /** Bodies larger than this stream through uncached. */
  maxBodyBytes: z.number().int().min(0).max(256 * MiB).default(10 * MiB),
  /** Query parameters left out of every key (names, `prefix*`, or `*`). */
  ignoreQueryParams: z.array(z.string().min(1).max(128)).max(100).default([]),
  sortQuery: z.boolean().default(false),
  /** Leave the host out of keys (every hostname of the site shares entries). */
  ignoreHost: z.boolean().default(false),
  /** Windows used when the origin gives none (RFC 5861). */
  staleWhileRevalidateSeconds: Seconds.default(0),
  staleIfErrorSeconds: Seconds.default(0),
  /** Heuristic freshness: this fraction of the time since Last-Modified, capped. */
  heuristicFraction: z.number().min(0).max(1).default(0.1),
  heuristicMaxSeconds: Seconds.default(86400),
  /** Upper bound on any lifetime (an enormous max-age is clamped). */
  maxTtlSeconds: Seconds.default(365 * 86400),
  /** How long stale entries with a validator are kept for conditional revalidation. */
  keepStaleSeconds: Seconds.default(86400),
  /**
   * How long a URL that answered uncacheable (no-store, private, Set-Cookie …) goes straight to
   * the origin, skipping lookups and leases (Varnish's hit-for-pass); 0 turns it off.
   */
  hitForPassSeconds: Seconds.max(3600).default(120),
  /** The shared KV tier. */
  kv: z.object({
    /**
     * Byte budget across every isolate and region (bodies, header fields and keys as counted by
     * the cache). The default is a quarter of the 1 GB of KV storage Deno Deploy includes, so
     * the app's other data keeps the rest.
     */
    maxBytes: z.number().int().min(MiB).max(1024 * 1024 * MiB).default(256 * MiB),
    /** How long a stale entry with a validator stays in KV for conditional revalidation. */
    keepStaleSeconds: Seconds.max(86400).default(300),
    /** Interval of the `cache-kv-sweep` job (expired entries out; the counters rechecked). */
    sweepSeconds: z.number().int().min(1).max(3600).default(60),
  }).prefault({}),
  /** KV reads on a request's way (lookups, fill checks) give up after this; the origin answers. */
  kvTimeoutMs: z.number().int().min(10).max(60_000).default(2000),
  /** How long one node may hold the fill lease of a key (cross-isolate collapsing). */
  leaseMs: z.number().int().min(100).max(120_000).default(5000),
  /**
   * Which misses take the fill lease (collapsing one key's fills across isolates and regions):
   * `known`, only keys the cache stored before (a stale copy, anything in KV) or another node
   * is filling now; `always`, every miss, new URLs too (two more KV writes per miss).
   */
  lease: z.enum(["known", "always"]).default("known"),
  /** Fallback interval for replaying purges from KV when `kv.watch` is not delivering. */
  purgePollMs: z.number().int().min(100).max(3_600_000).default(5000),
  /**
   * Compressing identity bodies for clients that accept br or gzip (kept once per item in the
   * memory tier). Bodies the origin sent compressed are stored and served as they are.
   */
  compression: z.object({
    enabled: z.boolean().default(true),
    /** Bodies smaller than this are sent as they are. */
    minBytes: z.number().int().min(0).max(16 * MiB).default(256),
  }).prefault({}),
  /** How often purges are replayed anyway while `kv.watch` delivers (a safety net). */
  purgeWatchedPollMs: z.number().int().min(100).max(3_600_000).default(60_000),
  /** Emit `Deno-CDN-Cache-Control` for Deno Deploy's cache in front. */
  denoCdnCacheControl: DenoCdnCacheControlSchema.default("off"),
  routes: z.array(CacheRouteSchema).max(100).default([]),
}).prefault({});
/** The validated `cache` section. */
export type CacheConfig = z.infer<typeof CacheConfigSchema>;

/** The fields this feature owns. */
export const CACHE_FIELDS = {
  /** The SWR edge cache. */
  cache: CacheConfigSchema,
};

/** Environment variables of this feature, and the config field each sets. */
export const CACHE_ENV: EnvTable = {
  CACHE_MEMORY_BYTES: { path: "cache.memoryBytes", kind: "bytes" },
  CACHE_MAX_BODY_BYTES: { path: "cache.maxBodyBytes", kind: "bytes" },
  CACHE_KV_MAX_BYTES: { path: "cache.kv.maxBytes", kind: "bytes" },
};

/** How the loader reads them. */
export const CACHE_CONFIG: FeatureConfig<typeof CACHE_FIELDS> = {
  fields: CACHE_FIELDS,
  env: CACHE_ENV,
};

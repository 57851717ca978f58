/** The `proxy` section: forwarding to origins (timeouts, retries, bodies, circuit breakers). */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";

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

/** The validated `proxy` section. */
export type ProxyConfig = z.infer<typeof ProxyConfigSchema>;

/** The fields this feature owns. */
export const PROXY_FIELDS = { proxy: ProxyConfigSchema };

/** Environment variables of this feature, and the config field each sets. */
export const PROXY_ENV: EnvTable = {
  PROXY_TIMEOUT_MS: { path: "proxy.timeoutMs", kind: "int" },
  PROXY_MAX_BODY_BYTES: { path: "proxy.maxBodyBytes", kind: "bytes" },
};

/** How the loader reads them. */
export const PROXY_CONFIG: FeatureConfig<typeof PROXY_FIELDS> = {
  fields: PROXY_FIELDS,
  env: PROXY_ENV,
};

/**
 * The cache's own endpoints: `POST /_edge/purge` (by URL and tag, on every node; admin token)
 * and `GET /_edge/cache` (this node's cache figures).
 */

import type { Handler } from "hono";
import { z } from "zod";
import type { AppEnv } from "../../core/request.ts";
import type { AdminCheck } from "../../platform/guard.ts";
import type { EdgeCache } from "./edge_cache.ts";
import { bothSchemes, isValidTag } from "./key.ts";
import { pathOf } from "../../platform/http/url_path.ts";
import { HttpError, readJsonBody } from "../../platform/http/errors.ts";
import { jsonResponse } from "../../platform/http/respond.ts";
import { parseInput } from "../../platform/http/validate.ts";
import { canonicalTarget, isRefusal } from "../../platform/http/target.ts";
import {
  DEFAULT_PROBLEM,
  described,
  json,
  jsonBody,
  named,
  OPERATOR_PROBLEMS,
  OPERATOR_SECURITY,
  problems,
  type RouteDoc,
} from "../../platform/http/route_doc.ts";
import { pathTag } from "../deploy/cdn.ts";
import type { DenoCdnPurger } from "../deploy/purge.ts";

const MAX_BODY = 256 * 1024;

/** What {@linkcode isValidTag} accepts, as a pattern for the API docs. */
export const TAG_PATTERN = "^[\\x21-\\x2b\\x2d-\\x7e]{1,128}$";

/** The body of `POST /_edge/purge`. */
export const PurgeBodySchema = z.object({
  /** Absolute http(s) URLs, or paths resolved against this request's host. */
  urls: z.array(z.string().min(1).max(2048)).max(100).default([]),
  tags: z.array(
    z.string().refine(isValidTag, "Not a valid tag (1-128 visible ASCII, no comma)")
      .meta({ pattern: TAG_PATTERN }),
  ).max(100).default([]),
  /** Mark stale (kept for stale-if-error) instead of deleting. */
  soft: z.boolean().default(false),
}).strict().refine((b) => b.urls.length + b.tags.length > 0, {
  message: "Give at least one URL or tag",
});

function makeAnswerSchemas() {
  const Count = z.number().int().min(0);
  return {
    /** `POST /_edge/purge`. */
    PurgeResultSchema: z.object({
      purged: z.object({ urls: Count, tags: Count }),
      soft: z.boolean(),
      entries: Count.describe("KV entries purged (or marked stale)"),
      memory: Count.describe("Items dropped from this node's memory"),
      seq: z.string().describe("The purge log's sequence number after this purge"),
      deno_cdn: z.object({
        tags: Count.describe("Tags sent: the request's, and one per URL's path"),
        requests: Count.describe("Invalidation requests (at most 500 tags each)"),
      }).optional().describe("Deno Deploy's CDN, purged too (platform.cdn.purgeUrl set)"),
    }),
    /** `GET /_edge/cache`. */
    CacheSnapshotSchema: z.object({
      memory: z.object({ bytes: Count, items: Count, budgetBytes: Count }),
      kv: z.object({
        usedBytes: Count.nullable().describe(
          "Bytes the shared KV tier holds by its usage counters, as this node last read them",
        ),
        budgetBytes: Count.describe("cache.kv.maxBytes"),
      }),
      inFlight: Count,
      background: Count,
      rssBytes: Count,
    }),
  };
}

let answerSchemas: ReturnType<typeof makeAnswerSchemas> | undefined;

/**
 * What `POST /_edge/purge` and `GET /_edge/cache` answer, as zod schemas: built when first asked
 * for (the API document, tests), not at start-up.
 */
export function cacheAnswerSchemas(): ReturnType<typeof makeAnswerSchemas> {
  return answerSchemas ??= makeAnswerSchemas();
}

function purgeDoc(): RouteDoc {
  const { PurgeResultSchema } = cacheAnswerSchemas();
  return {
    operationId: "purgeCache",
    tags: ["Cache"],
    summary: "Purge cached responses on every node, by URL and tag",
    description: "`urls` are absolute http(s) URLs or paths resolved against this request's " +
      "host; `tags` match the origin's `Cache-Tag` / `Surrogate-Key`. `soft` marks entries " +
      "stale instead of deleting them. Other nodes follow through KV. On Deno Deploy the tags " +
      "and each URL's path tag are also purged from the platform's CDN.",
    security: OPERATOR_SECURITY,
    requestBody: jsonBody(named("PurgeRequest", PurgeBodySchema), "At most 256 KiB"),
    responses: {
      200: json("Purged", named("PurgeResult", PurgeResultSchema)),
      ...problems({
        400: "`validation_failed` (with `errors`), `invalid_json`",
        ...OPERATOR_PROBLEMS,
        413: "`body_too_large`",
        415: "`unsupported_media_type`",
        502: "`cdn_purge_failed`: purged here, but Deno Deploy's CDN did not confirm; repeat",
        503: "`admin_not_configured`: production without `ADMIN_TOKEN`; `purge_failed`: KV " +
          "unavailable; retry",
      }),
      default: DEFAULT_PROBLEM,
    },
  };
}

function cacheStatsDoc(): RouteDoc {
  const { CacheSnapshotSchema } = cacheAnswerSchemas();
  return {
    operationId: "getCacheStats",
    tags: ["Cache"],
    summary: "This node's cache: memory tier and work in flight",
    security: OPERATOR_SECURITY,
    responses: {
      200: json("Figures", named("CacheSnapshot", CacheSnapshotSchema)),
      ...problems(OPERATOR_PROBLEMS),
      default: DEFAULT_PROBLEM,
    },
  };
}

/**
 * The purge handler (behind the operator guard, like every operator endpoint). With `platform`
 * (on Deno Deploy), the tags and each URL's path tag are also purged from the platform's CDN;
 * when it does not confirm, the answer is 502 (the edge's own purge stands; repeat the request).
 */
export function purgeHandler(
  options: { cache: EdgeCache; admin: AdminCheck; platform?: DenoCdnPurger | null },
): Handler<AppEnv> {
  return described(purgeDoc, async function purge(c) {
    options.admin(c.req.raw);
    const body = parseInput(
      PurgeBodySchema,
      await readJsonBody(c.req.raw, MAX_BODY),
      "purge request",
    );
    const { cache } = options;
    const keys: string[] = [];
    const pathTags: string[] = [];
    const errors: Array<{ path: string; message: string }> = [];
    body.urls.forEach((raw, i) => {
      let url: URL | null = null;
      try {
        url = new URL(raw, c.req.url);
      } catch {
        // reported below
      }
      if (
        url === null || (url.protocol !== "http:" && url.protocol !== "https:") ||
        url.username !== "" || url.password !== ""
      ) {
        errors.push({
          path: `urls.${i}`,
          message: `Not an http(s) URL or path: ${raw.slice(0, 100)}`,
        });
        return;
      }
      const path = pathOf(url.href);
      const target = canonicalTarget(url.href, null, "https");
      if (!isRefusal(target)) pathTags.push(pathTag(target.path));
      if (!cache.policy.handles(path)) {
        errors.push({ path: `urls.${i}`, message: `Never cached: ${path.slice(0, 100)}` });
        return;
      }
      // A URL purges its http and https entries alike (the scheme is part of every key).
      const route = cache.policy.route(path);
      const found = bothSchemes(url.href).map((u) => route.key(u, new Request(u)));
      if (found.some((key) => key === null)) {
        errors.push({ path: `urls.${i}`, message: "No cache key for this URL" });
      } else keys.push(...(found as string[]));
    });
    if (errors.length > 0) {
      throw new HttpError(400, `Invalid purge request: ${errors[0].path}: ${errors[0].message}`, {
        code: "validation_failed",
        extensions: { errors },
      });
    }
    const summary = await cache.purge(keys, body.tags, body.soft);
    const result = {
      purged: { urls: body.urls.length, tags: body.tags.length },
      soft: body.soft,
      entries: summary.entries,
      memory: summary.memory,
      seq: summary.seq,
    };
    if (options.platform) {
      // The platform has no soft purge: its copies go either way (ours stay for stale-if-error).
      const cdn = await options.platform.purge([...body.tags, ...pathTags]);
      if (!cdn.ok) {
        throw new HttpError(
          502,
          `Purged from the edge cache, but Deno Deploy's CDN did not confirm the purge ` +
            `(${cdn.reason}): repeat the request`,
          { code: "cdn_purge_failed", extensions: { edge: result } },
        );
      }
      return jsonResponse(
        { ...result, deno_cdn: { tags: cdn.tags, requests: cdn.requests } },
        200,
        { "cache-control": "no-store" },
      );
    }
    return jsonResponse(result, 200, { "cache-control": "no-store" });
  });
}

/** `GET /_edge/cache`: this node's memory tier and in-flight work (an operator endpoint). */
export function cacheStatsHandler(cache: EdgeCache, admin: AdminCheck): Handler<AppEnv> {
  return described(cacheStatsDoc, function cacheStats(c) {
    admin(c.req.raw);
    return jsonResponse(cache.snapshot(), 200, { "cache-control": "no-store" });
  });
}

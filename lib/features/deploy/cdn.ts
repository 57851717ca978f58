/**
 * Deno Deploy's CDN sits in front of the edge and answers cached responses before the edge runs
 * (https://docs.deno.com/deploy/reference/caching). Whatever authorization decided, an
 * experiment varied, a WebSocket upgrade and the edge's own answers must never be stored there,
 * whatever the origin's `Cache-Control` says: they get `Deno-CDN-Cache-Control: private,
 * no-store`, which takes precedence over `CDN-Cache-Control` and `Cache-Control`. Everything else
 * the CDN may cache carries `Deno-Cache-Tag`: the origin's `Cache-Tag` / `Surrogate-Key` tags and
 * one tag for its path, so a purge by tag or by URL reaches the platform's copies too.
 */

import type { EdgeRequestContext } from "../../core/request.ts";
import { parseTags } from "../cache/key.ts";
import { compilePathPatterns } from "../../platform/http/path_pattern.ts";
import { matchPath } from "../../platform/http/target.ts";

/** The CDN control header, ahead of `CDN-Cache-Control` and `Cache-Control`. */
const DENO_CDN_CONTROL = "deno-cdn-cache-control";
/** The tag header the platform's invalidation API purges by. */
const DENO_CACHE_TAG = "deno-cache-tag";
/** What keeps a response out of the CDN (`private` bypasses it, `no-store` forbids storing). */
const DENO_CDN_NEVER = "private, no-store";
/** Most tags the platform keeps per response. */
export const MAX_DENO_TAGS = 500;

/**
 * Marks `res` as never to be stored by Deno Deploy's CDN. For responses built outside the
 * pipeline's last step (a WebSocket upgrade's 101); headers that cannot change are copied into
 * a new response, except for a 101 (which must stay the upgrade's own object).
 */
export function keepOutOfDenoCdn(res: Response): Response {
  try {
    res.headers.set(DENO_CDN_CONTROL, DENO_CDN_NEVER);
    return res;
  } catch {
    if (res.status === 101) return res; // never cached anyway; the upgrade must stay intact
    const copy = new Response(res.body, res);
    copy.headers.set(DENO_CDN_CONTROL, DENO_CDN_NEVER);
    return copy;
  }
}

/**
 * The tag every answer for `path` carries on Deno Deploy (`outpost-path-<16 hex>`, a 64-bit
 * FNV-1a of the canonical path): a purge of a URL purges this tag. Query strings and hosts share
 * it, so a URL purge may drop more of the platform's copies than ours, never fewer.
 */
export function pathTag(path: string): string {
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x050c5d1f | 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h1 >>> 15);
  }
  return `outpost-path-${(h1 >>> 0).toString(16).padStart(8, "0")}${
    (h2 >>> 0).toString(16).padStart(8, "0")
  }`;
}

/**
 * The `Deno-Cache-Tag` value for an answer: the path's tag, then the origin's `Cache-Tag` and
 * `Surrogate-Key` tags and any `Deno-Cache-Tag` of its own (comma-separated, at most
 * {@linkcode MAX_DENO_TAGS}). The platform's tags are case-insensitive, ours are not: a tag purge
 * there may drop more, never fewer.
 */
export function denoCacheTags(headers: Headers, path: string): string {
  const tags = new Set([pathTag(path)]);
  const own = headers.get(DENO_CACHE_TAG);
  if (own !== null) {
    for (const raw of own.slice(0, 16384).split(",")) {
      const tag = raw.trim();
      if (tag !== "" && tag.length <= 1024 && tags.size < MAX_DENO_TAGS) tags.add(tag);
    }
  }
  for (const tag of parseTags(headers)) {
    if (tags.size >= MAX_DENO_TAGS) break;
    tags.add(tag);
  }
  return [...tags].join(",");
}

/**
 * Paths whose answers are the edge's own (its endpoints, the collector, data kept in KV) or the
 * API: never stored by the platform, whatever else applies. Matched on the lower-cased,
 * parameter-free path, as authorization matches.
 */
const NEVER_PATHS = compilePathPatterns([
  "/_edge/*",
  "/_central/*",
  "/api/*",
  "/items/*",
  "/crdt/*",
  "/events/*",
]);

/** Why an answer must stay out of the platform's CDN, or null when it may be cached there. */
export type NeverReason = "upgrade" | "edge" | "protected" | "varied";

/**
 * The rule, as a pure function: an upgrade, an edge-owned or API path, a request authorization
 * guards (or decided on) and an answer an experiment varied are never cached by the platform.
 */
export function neverReason(
  req: { method: string; headers: Headers },
  status: number,
  ctx: Pick<EdgeRequestContext, "authz" | "variants"> & { target: { path: string } },
  protects: (method: string, path: string) => boolean,
): NeverReason | null {
  if (status === 101 || req.headers.has("upgrade")) return "upgrade";
  const path = ctx.target.path;
  if (NEVER_PATHS(matchPath(path))) return "edge";
  if (ctx.authz !== undefined || protects(req.method, path)) return "protected";
  for (const _ in ctx.variants) return "varied";
  return null;
}

/** Applies the rule to every answer of a node behind Deno Deploy's CDN. */
export class CdnGuard {
  readonly #protects: (method: string, path: string) => boolean;

  constructor(options: { protects: (method: string, path: string) => boolean }) {
    this.#protects = options.protects;
  }

  /**
   * Stamps `res` for the platform's CDN: never stored (set over anything the origin sent), or,
   * for GET and HEAD, tagged for purges. Returns the response to send (a copy only when its
   * headers cannot change).
   */
  stamp(req: Request, res: Response, ctx: EdgeRequestContext): Response {
    const never = neverReason(req, res.status, ctx, this.#protects);
    if (never !== null) return keepOutOfDenoCdn(res);
    if (req.method !== "GET" && req.method !== "HEAD") return res;
    const tags = denoCacheTags(res.headers, ctx.target.path);
    try {
      res.headers.set(DENO_CACHE_TAG, tags);
      return res;
    } catch {
      const copy = new Response(res.body, res);
      copy.headers.set(DENO_CACHE_TAG, tags);
      return copy;
    }
  }
}

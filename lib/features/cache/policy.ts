/** The cache config compiled once: which paths are cached, how keys are built, which rules apply. */

import { compilePathPatterns, type PathMatcher } from "../../platform/http/path_pattern.ts";
import { matchPath } from "../../platform/http/target.ts";
import type { CacheConfig, CacheRoute } from "./config.ts";
import type { FreshnessRules } from "./freshness.ts";
import { compileKey } from "./key.ts";

/** The settings that apply to one request path. */
export interface CompiledRoute {
  bypass: boolean;
  key: (rawUrl: string, req: Request) => string | null;
  rules: FreshnessRules;
  denoCdn: string;
  /** The key has no custom function (the fast path may compute it). */
  plainKey: boolean;
}

/**
 * Paths the cache never handles: the API and the node's own endpoints, matched on the lower-cased,
 * parameter-free path, so no spelling of `/items/42` can be stored or served from the shared cache.
 */
const NEVER = compilePathPatterns([
  "/api/*",
  "/_edge/*",
  "/_central/*",
  "/items/*",
  "/crdt/*",
  "/events/*",
]);

/** Compiled cache settings. */
export class CachePolicy {
  readonly config: CacheConfig;
  readonly #default: CompiledRoute;
  readonly #routes: Array<{ matches: PathMatcher; route: CompiledRoute }>;

  constructor(config: CacheConfig) {
    this.config = config;
    this.#default = this.#compile(null);
    this.#routes = config.routes.map((r) => ({
      matches: compilePathPatterns(r.paths),
      route: this.#compile(r),
    }));
  }

  /** True when the cache handles this path at all. */
  handles(path: string): boolean {
    return this.config.enabled && !NEVER(matchPath(path));
  }

  /** The freshness rules of no route in particular (the section's own settings). */
  get defaultRules(): FreshnessRules {
    return this.#default.rules;
  }

  /** The settings for a path (the first matching route, else the defaults). */
  route(path: string): CompiledRoute {
    for (const r of this.#routes) if (r.matches(path)) return r.route;
    return this.#default;
  }

  #compile(r: CacheRoute | null): CompiledRoute {
    const c = this.config;
    return {
      bypass: r?.bypass ?? false,
      plainKey: r?.key === undefined,
      key: compileKey({
        ignoreQueryParams: r?.ignoreQueryParams ?? c.ignoreQueryParams,
        sortQuery: r?.sortQuery ?? c.sortQuery,
        ignoreHost: r?.ignoreHost ?? c.ignoreHost,
        custom: r?.key,
      }),
      denoCdn: r?.denoCdnCacheControl ?? c.denoCdnCacheControl,
      rules: {
        ttlSeconds: r?.ttlSeconds,
        defaultTtlSeconds: r?.defaultTtlSeconds,
        staleWhileRevalidateSeconds: r?.staleWhileRevalidateSeconds,
        staleIfErrorSeconds: r?.staleIfErrorSeconds,
        defaultStaleWhileRevalidateSeconds: c.staleWhileRevalidateSeconds,
        defaultStaleIfErrorSeconds: c.staleIfErrorSeconds,
        heuristicFraction: c.heuristicFraction,
        heuristicMaxSeconds: c.heuristicMaxSeconds,
        maxTtlSeconds: c.maxTtlSeconds,
        keepStaleSeconds: c.keepStaleSeconds,
      },
    };
  }
}

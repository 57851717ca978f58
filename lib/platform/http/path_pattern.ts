/** Path patterns used across config: an exact path, or a prefix ending in `*` (`/api/*`). */

/** A compiled set of patterns. */
export type PathMatcher = (path: string) => boolean;

/** Compiles patterns once; `/api/*` matches `/api` and everything under `/api/`. */
export function compilePathPatterns(patterns: readonly string[]): PathMatcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    if (!p.startsWith("/")) throw new TypeError(`Path pattern must start with /: ${p}`);
    if (p.endsWith("/*")) {
      prefixes.push(p.slice(0, -1));
      exact.add(p.slice(0, -2) || "/");
    } else if (p.endsWith("*")) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  if (prefixes.length === 0) return (path) => exact.has(path);
  return function matches(path: string): boolean {
    if (exact.has(path)) return true;
    for (const prefix of prefixes) if (path.startsWith(prefix)) return true;
    return false;
  };
}

/**
 * Compiles a Hono-style route path (`/api/*`, `/users/:id`, `/items/:id/*`) into a matcher, so
 * code outside the router (the cache's fast path) can tell whether a route would apply.
 */
export function compileRoutePath(pattern: string): PathMatcher {
  if (!pattern.startsWith("/")) throw new TypeError(`Route path must start with /: ${pattern}`);
  let source = "";
  for (const segment of pattern.split("/").slice(1)) {
    if (segment === "*") source += "(?:/.*)?";
    else if (segment.startsWith(":")) source += "/[^/]+";
    else source += "/" + segment.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*");
  }
  const re = new RegExp(`^${source || "/"}/?$`);
  return (path) => re.test(path);
}

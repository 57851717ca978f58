/**
 * Path groups for status-counting circuits (`proxy.breaker.countStatuses`): an origin that keeps
 * failing one group of URLs is taken out for that group only.
 */

import { compilePathPatterns } from "../../platform/http/path_pattern.ts";

/** Longest group name kept from a first path segment (longer ones are cut). */
const MAX_SEGMENT = 100;

/**
 * Returns the group of a request path (no query): the first of `patterns` that matches
 * (exact paths, or prefixes ending in `*` as elsewhere in the config), else the path's first
 * segment (`/status/500` → `/status`, `/` → `/`).
 */
export function pathGrouper(patterns: readonly string[]): (path: string) => string {
  const compiled = patterns.map((p) => [p, compilePathPatterns([p])] as const);
  return function pathGroup(path: string): string {
    for (const [pattern, matches] of compiled) if (matches(path)) return pattern;
    return firstSegment(path);
  };
}

/** `/a/b` → `/a`; `/a` → `/a`; `/` → `/`. */
export function firstSegment(path: string): string {
  const end = path.indexOf("/", 1);
  const segment = end < 0 ? path : path.slice(0, end);
  return segment.length > MAX_SEGMENT ? segment.slice(0, MAX_SEGMENT) : segment || "/";
}

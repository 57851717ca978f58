/**
 * The fixed set of route groups that requests are counted under. Raw paths never become labels
 * (a label fed from outside would grow memory without bound); a group is found from the path's
 * first segment and the method with a few string comparisons and no allocation.
 */

import { pathStart, segmentIs } from "./url_path.ts";

/** Route groups, by index. */
export const ROUTE_GROUPS = [
  "edge",
  "api",
  "cache",
  "items",
  "crdt",
  "events",
  "central",
  "other",
] as const;
/** Index of the `edge` group (`/_edge/*`). */
export const EDGE_ROUTE = 0;

/** The route group index of a request (`url` absolute, as `Request.url`). */
export function routeGroupOf(url: string, method: string): number {
  const start = pathStart(url);
  if (start >= 0) {
    const c = url.charCodeAt(start + 1);
    if (c === 95 /* _ */) {
      if (segmentIs(url, start, "/_edge")) return 0;
      if (segmentIs(url, start, "/_central")) return 6;
    } else if (c === 97 /* a */) {
      if (segmentIs(url, start, "/api")) return 1;
    } else if (c === 105 /* i */) {
      if (segmentIs(url, start, "/items")) return 3;
    } else if (c === 99 /* c */) {
      if (segmentIs(url, start, "/crdt")) return 4;
    } else if (c === 101 /* e */) {
      if (segmentIs(url, start, "/events")) return 5;
    }
  }
  return method === "GET" || method === "HEAD" ? 2 : 7;
}

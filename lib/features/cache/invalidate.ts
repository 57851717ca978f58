/**
 * RFC 9111 §4.4: a successful unsafe request invalidates what is stored for its URL and for the
 * `Location` / `Content-Location` it names on the same host.
 */

import type { Context } from "hono";
import type { AppEnv } from "../../core/request.ts";
import { markPassThrough } from "./respond.ts";
import { pathOf } from "../../platform/http/url_path.ts";
import { bothSchemes } from "./key.ts";
import type { CachePolicy } from "./policy.ts";

/**
 * Methods registered as safe (IANA HTTP Method Registry). Every other method, unknown and
 * extension ones included, invalidates (RFC 9111 §4.4: "methods whose safety is unknown").
 */
const SAFE = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "REPORT", "SEARCH", "QUERY"]);

/** The URLs a response to an unsafe request invalidates (same host only). */
export function invalidatedUrls(requestUrl: string, res: Response): string[] {
  const base = new URL(requestUrl);
  const out = [base.href];
  for (const name of ["location", "content-location"]) {
    const value = res.headers.get(name);
    if (!value || value.length > 4096) continue;
    try {
      const url = new URL(value, base);
      if (url.host === base.host && url.protocol === base.protocol && !out.includes(url.href)) {
        out.push(url.href);
      }
    } catch {
      // not a URL: nothing to invalidate
    }
  }
  return out;
}

/**
 * After a request other than GET/HEAD was forwarded: invalidates on success (2xx, 3xx) unless
 * the method is known to be safe, and marks responses on cached paths `X-Cache: BYPASS`.
 */
export async function invalidateAfterUnsafe(
  c: Context<AppEnv>,
  policy: CachePolicy,
  invalidate: (urlKeys: string[]) => Promise<void>,
): Promise<void> {
  const req = c.req.raw;
  const ctx = c.env.ctx;
  const handled = policy.handles(ctx.target.path);
  if (!SAFE.has(req.method) && c.res.status >= 200 && c.res.status < 400) {
    const keys: string[] = [];
    for (const url of invalidatedUrls(ctx.href, c.res)) {
      const path = pathOf(url);
      if (!policy.handles(path)) continue;
      const route = policy.route(path);
      // Both schemes: a write over https makes the http entry as stale as the https one.
      for (const variant of bothSchemes(url)) {
        const key = route.key(variant, variant === ctx.href ? req : new Request(variant));
        if (key !== null && !keys.includes(key)) keys.push(key);
      }
    }
    if (keys.length > 0) await invalidate(keys);
  }
  if (handled) {
    // In place when possible: Hono's `c.res` setter copies the response and its fields.
    const res = markPassThrough(c.res, "BYPASS", "Outpost; fwd=method");
    if (res !== c.res) c.res = res;
  }
}

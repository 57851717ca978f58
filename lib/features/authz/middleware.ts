/**
 * The Hono middleware for protected routes. It is registered only on the protected patterns, so
 * every other route pays nothing. An allowed request continues with `ctx.userId` set, the user id
 * sent to the origin as `X-User-Id`, and `RateLimit-Policy` / `RateLimit` on the response.
 */

import type { Context, Next } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { Authorizer, Grant } from "./authorizer.ts";

/** The header that tells the origin who the (verified) user is; empty when anonymous. */
const USER_ID_HEADER = "X-User-Id";

/** The middleware: `method` and `path` are what is decided on (see `register` in setup.ts). */
export type AuthorizationMiddleware = (
  c: Context<AppEnv>,
  next: Next,
  method: string,
  path: string,
) => Promise<void>;

/** Builds the middleware around an authorizer. */
export function authorization(authorizer: Authorizer): AuthorizationMiddleware {
  return async function authorization(c, next, method, path) {
    const ctx = c.env.ctx;
    if (ctx.authz !== undefined) return await next();
    const pending = authorizer.check(c.req.raw, path, ctx, method);
    const grant: Grant = pending instanceof Promise ? await pending : pending;
    ctx.authz = {
      action: grant.action,
      rateClass: grant.rateClass.name,
      failedOpen: grant.failedOpen,
    };
    ctx.userId = grant.userId;
    ctx.userRoles = grant.roles;
    ctx.originHeaders[USER_ID_HEADER] = grant.userId ?? "";
    ctx.timings.push(`authz;dur=${grant.moduleMs.toFixed(3)}`);
    await next();
    const headers = authorizer.rateHeaders(grant.rateClass, grant.rate);
    try {
      for (const name in headers) c.res.headers.set(name, headers[name]);
    } catch {
      // An upstream response's headers can be immutable: copy the response once.
      const res = new Response(c.res.body, c.res);
      for (const name in headers) res.headers.set(name, headers[name]);
      c.res = res;
    }
  };
}

/**
 * The one guard for bearer secrets. Every operator endpoint (stats, metrics, cache stats, purge,
 * analytics flush, verbose health) checks the one validated `ADMIN_TOKEN` (config
 * `metrics.adminToken`), as a bearer header only, never in the URL (where it would reach logs,
 * traces and referrers), compared in constant time (every byte of the presented token, always to its
 * end, so neither the content nor the length of the token leaks through timing: see
 * `SharedSecret`).
 */

import { HttpError } from "./http/errors.ts";
import { bearerToken, SharedSecret } from "./http/secret.ts";

/** Options for {@linkcode adminGuard}. */
export interface AdminGuardOptions {
  /** The expected token; unset means open in development and closed (503) in production. */
  token?: string;
  mode: "development" | "production";
}

/** A check that throws 401/403 problems unless the request carries the admin token. */
export type AdminCheck = (req: Request) => void;

/** The presented token; null when none (or not a bearer token) was presented. */
function tokenOf(req: Request): string | null {
  const auth = req.headers.get("authorization");
  return auth === null ? null : bearerToken(auth);
}

/** Builds the admin check once (the expected token's bytes are made here). */
export function adminGuard(options: AdminGuardOptions): AdminCheck {
  const { token, mode } = options;
  if (token === undefined) {
    if (mode === "development") return function open() {};
    return function closed() {
      throw new HttpError(503, "Operator endpoints are not configured: set ADMIN_TOKEN", {
        code: "admin_not_configured",
      });
    };
  }
  const secret = new SharedSecret(token);
  return function adminCheck(req) {
    const given = tokenOf(req);
    if (given === null) {
      throw new HttpError(401, "This endpoint needs the admin token (Authorization: Bearer)", {
        code: "admin_token_required",
        headers: { "www-authenticate": 'Bearer realm="outpost"' },
      });
    }
    if (!secret.matches(given)) {
      throw new HttpError(403, "The admin token is wrong", { code: "admin_token_invalid" });
    }
  };
}

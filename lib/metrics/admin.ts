/**
 * Access to the operator endpoints (stats, metrics, cache, analytics flush): the admin token as
 * a bearer header only, never in the URL (where it would reach logs, traces and referrers),
 * compared in constant time (HMACs of both under a per-process random key, then a fixed-length
 * comparison, so neither the content nor the length of the token leaks through timing).
 */

import { HttpError } from "../http/errors.ts";
import { SharedSecret } from "../http/secret.ts";

/** Options for {@linkcode adminGuard}. */
export interface AdminGuardOptions {
  /** The expected token; unset means open in development and closed in production. */
  token?: string;
  mode: "development" | "production";
}

/** A check that throws 401/403 problems unless the request carries the admin token. */
export type AdminCheck = (req: Request) => void;

function tokenOf(req: Request): string | null {
  const auth = req.headers.get("authorization");
  if (auth === null) return null;
  const m = /^Bearer\s+(\S{1,1024})\s*$/i.exec(auth);
  return m ? m[1] : "";
}

/** Builds the admin check once (the HMAC key and the expected digest are made here). */
export function adminGuard(options: AdminGuardOptions): AdminCheck {
  const { token, mode } = options;
  if (token === undefined) {
    if (mode === "development") return function open() {};
    return function closed() {
      throw new HttpError(403, "Operator endpoints are closed: set ADMIN_TOKEN to use them", {
        code: "admin_token_not_configured",
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

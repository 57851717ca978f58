/** Bearer checks for admin endpoints (`POST /_edge/purge`), built on {@linkcode SharedSecret}. */

import { SharedSecret } from "./secret.ts";

/** Checks an `Authorization` header against a secret; false when no secret is configured. */
export type BearerCheck = (authorization: string | null) => Promise<boolean>;

/** Builds a check for `secret` (an unset or empty secret refuses everything). */
export function bearerCheck(secret: string | undefined): BearerCheck {
  if (!secret) return () => Promise.resolve(false);
  const shared = new SharedSecret(secret);
  return (authorization) => Promise.resolve(shared.matchesBearer(authorization));
}

/** Who a verified token says the caller is, and the two ways verifying can fail. */

/** A verified caller. */
export interface Identity {
  userId: string;
  roles: string[];
  /** Expiry (ms since the epoch), null when the token has none. */
  expMs: number | null;
  nbfMs: number | null;
}

/** Missing or unacceptable credentials (401). */
export class AuthError extends Error {
  /** `missing` (no credentials) or `invalid` (RFC 6750 `invalid_token`). */
  readonly kind: "missing" | "invalid";
  constructor(kind: "missing" | "invalid", message: string) {
    super(message);
    this.name = "AuthError";
    this.kind = kind;
  }
}

/** The verifier cannot work (keys failed to load): a server fault, not the caller's. */
export class IdentityUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "IdentityUnavailable";
  }
}

/**
 * What a 401 says about a token (its `error_description`), whichever library checked it: the
 * same token is refused with the same words under HS256 (hono/jwt) and RS256/ES256 (jose).
 */
export const REASON = {
  malformed: "Token is malformed",
  header: "Token header is not acceptable (unsupported alg, typ or crit)",
  algorithm: "Token algorithm is not accepted",
  unsupported: "Token algorithm is not supported",
  signature: "Token signature does not match",
  issuer: "Token issuer is not accepted",
  audience: "Token audience is not accepted",
  noAudience: "Token has no audience",
  expired: "Token expired",
  notYet: "Token is not valid yet",
  noKeyId: "Token has no key id",
  unknownKeyId: "Token key id is not known",
  other: "Token is not acceptable",
} as const;

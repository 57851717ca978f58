/** The IETF `RateLimit-Policy` and `RateLimit` structured fields (draft-ietf-httpapi-ratelimit-headers). */

/** `"standard";q=600;w=60`: the class's quota per window. */
export function rateLimitPolicyHeader(name: string, limit: number, windowS: number): string {
  return `"${name}";q=${limit};w=${windowS}`;
}

/** `"standard";r=42;t=3`: requests remaining and seconds until the allowance is full again. */
export function rateLimitHeader(name: string, remaining: number, resetS: number): string {
  return `"${name}";r=${Math.max(0, Math.floor(remaining))};t=${Math.max(0, Math.ceil(resetS))}`;
}

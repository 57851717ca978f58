/**
 * Shared secrets in headers (admin, sync and collector tokens), compared in constant time: both
 * sides are HMAC'd under a per-process random key and the equal-length digests compared with
 * `timingSafeEqual`, so neither the content nor the length of the secret leaks through timing.
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The token of an `Authorization: Bearer <token>` header, or null when absent or malformed. */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ \t]+([\x21-\x7e]{1,4096})[ \t]*$/i.exec(header);
  return match ? match[1] : null;
}

/** A configured secret that presented values are checked against. */
export class SharedSecret {
  readonly #key = randomBytes(32);
  readonly #expected: Uint8Array;

  constructor(secret: string) {
    if (secret.length === 0) throw new TypeError("A shared secret cannot be empty");
    this.#expected = this.#digest(secret);
  }

  #digest(value: string): Uint8Array {
    return createHmac("sha256", this.#key).update(value).digest();
  }

  /** True when `presented` equals the secret. */
  matches(presented: string | null | undefined): boolean {
    if (typeof presented !== "string") return false;
    return timingSafeEqual(this.#digest(presented), this.#expected);
  }

  /** True when the `Authorization` header carries the secret as a bearer token. */
  matchesBearer(header: string | null | undefined): boolean {
    return this.matches(bearerToken(header));
  }
}

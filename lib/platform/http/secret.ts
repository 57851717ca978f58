/**
 * Shared secrets in headers (admin, sync and collector tokens), compared in constant time: the
 * comparison runs over every byte of the presented value, always to its end, against the secret's
 * bytes taken in turn (wrapping around), and folds the length difference into the result. Its
 * time depends only on the presented value's length, which the caller already knows, so neither
 * the content nor the length of the secret leaks through timing. (Plain JS on purpose: the
 * `node:crypto` this used to take loads the Node compatibility layer at start-up, and Web
 * Crypto's HMAC is asynchronous while the guards are not.)
 */

const encoder = new TextEncoder();

/** The token of an `Authorization: Bearer <token>` header, or null when absent or malformed. */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ \t]+([\x21-\x7e]{1,4096})[ \t]*$/i.exec(header);
  return match ? match[1] : null;
}

/**
 * Whether `given` equals `expected` (not empty), in time that depends only on `given.length`:
 * no early exit, every byte of `given` is compared with a byte of `expected`.
 */
export function constantTimeEqual(given: Uint8Array, expected: Uint8Array): boolean {
  if (expected.length === 0) throw new TypeError("The expected value cannot be empty");
  const n = expected.length;
  let diff = given.length ^ n;
  for (let i = 0, j = 0; i < given.length; i++) {
    diff |= given[i] ^ expected[j];
    j = j + 1 === n ? 0 : j + 1;
  }
  return diff === 0;
}

/** A configured secret that presented values are checked against. */
export class SharedSecret {
  readonly #expected: Uint8Array;

  constructor(secret: string) {
    if (secret.length === 0) throw new TypeError("A shared secret cannot be empty");
    this.#expected = encoder.encode(secret);
  }

  /** True when `presented` equals the secret. */
  matches(presented: string | null | undefined): boolean {
    if (typeof presented !== "string") return false;
    return constantTimeEqual(encoder.encode(presented), this.#expected);
  }

  /** True when the `Authorization` header carries the secret as a bearer token. */
  matchesBearer(header: string | null | undefined): boolean {
    return this.matches(bearerToken(header));
  }
}

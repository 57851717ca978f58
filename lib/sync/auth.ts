/**
 * The shared secret between sync peers. Tokens are compared in constant time: both sides are
 * HMAC'd with a random per-process key and the digests compared byte by byte without an early
 * exit, so neither the length nor a prefix of the secret leaks through timing.
 */

const encoder = new TextEncoder();

/** Checks presented tokens against the configured one. */
export class TokenVerifier {
  readonly #key: Promise<CryptoKey>;
  readonly #expected: Promise<Uint8Array>;

  constructor(secret: string) {
    this.#key = crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]) as Promise<CryptoKey>;
    this.#expected = this.#digest(secret);
  }

  async #digest(value: string): Promise<Uint8Array> {
    const key = await this.#key;
    return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(value)));
  }

  /** True when `presented` equals the secret. */
  async verify(presented: string): Promise<boolean> {
    const [a, b] = await Promise.all([this.#digest(presented), this.#expected]);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | null): string | null {
  if (header === null) return null;
  const match = /^Bearer[ ]+([\x21-\x7e]{1,1024})[ ]*$/i.exec(header);
  return match ? match[1] : null;
}

/**
 * Bearer token checks for admin endpoints, in constant time: both sides are HMAC'd with a
 * per-process random key and the digests compared with a loop that never exits early, so neither
 * the token's content nor its length leaks through timing.
 */

/** Checks an `Authorization` header against a secret; false when no secret is configured. */
export type BearerCheck = (authorization: string | null) => Promise<boolean>;

const encoder = new TextEncoder();

/** Builds a check for `secret` (an unset or empty secret refuses everything). */
export function bearerCheck(secret: string | undefined): BearerCheck {
  if (!secret) return () => Promise.resolve(false);
  const keyPromise = crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const expected = keyPromise.then(async (key) =>
    new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(secret)))
  );
  return async function checkBearer(authorization) {
    const match = /^Bearer[ \t]+(\S{1,4096})[ \t]*$/i.exec(authorization ?? "");
    const given = match ? match[1] : "";
    const key = await keyPromise;
    const digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(given)));
    return constantTimeEqual(digest, await expected) && match !== null;
  };
}

/** Compares two byte arrays without an early exit (lengths are public: both are digests). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

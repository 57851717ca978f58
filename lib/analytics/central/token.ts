/** Shared-token checks for `/_central/*`, in constant time. */

const encoder = new TextEncoder();

/** True when `given` equals `expected`; the time taken depends only on `expected`'s length. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = encoder.encode(given);
  const b = encoder.encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i];
  return diff === 0 && b.length > 0;
}

/** The bearer token of an `Authorization` header, or null. */
export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ ]+([\x21-\x7e]{1,1024})\s*$/i.exec(header);
  return match ? match[1] : null;
}

/** SHA-256 of text as lower-case hex, for ETags, fingerprints and KV key parts. */

const encoder = new TextEncoder();

/** The hex SHA-256 of `text`'s UTF-8, cut to its first `bytes` bytes (all 32 by default). */
export async function sha256Hex(text: string, bytes = 32): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  let out = "";
  for (let i = 0; i < Math.min(bytes, digest.length); i++) {
    out += digest[i].toString(16).padStart(2, "0");
  }
  return out;
}

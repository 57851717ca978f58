/**
 * ULIDs (https://github.com/ulid/spec): 10 Crockford base32 characters of milliseconds, then 16
 * random ones. The same strings as the `ulid` package's `ulid()` and `encodeTime()` (a test checks
 * them against it), written here because the package's Node build, which Deno resolves, imports
 * `node:crypto` and so loads the Node compatibility layer at start-up (docs/cold_start.md).
 */

const ENCODING = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford's base32
const TIME_LEN = 10;
const RANDOM_LEN = 16;
/** The largest time a ULID holds (2^48 − 1 ms). */
export const ULID_TIME_MAX = 281474976710655;

/** `now` (whole ms, 0…{@linkcode ULID_TIME_MAX}) as `len` base32 characters, most significant first. */
export function encodeTime(now: number, len = TIME_LEN): string {
  if (!Number.isInteger(now) || now < 0 || now > ULID_TIME_MAX) {
    throw new RangeError(`A ULID time is a whole number of ms in 0…${ULID_TIME_MAX}: ${now}`);
  }
  let out = "";
  for (let i = len; i > 0; i--) {
    const mod = now % 32;
    out = ENCODING[mod] + out;
    now = (now - mod) / 32;
  }
  return out;
}

/** A new ULID for `seedTime` (ms; now when absent, 0 or NaN, as the package does). */
export function ulid(seedTime?: number): string {
  const seed = !seedTime || Number.isNaN(seedTime) ? Date.now() : seedTime;
  const random = crypto.getRandomValues(new Uint8Array(RANDOM_LEN));
  let out = encodeTime(seed, TIME_LEN);
  // 256 is a multiple of 32: the low five bits of a random byte are uniform.
  for (let i = 0; i < RANDOM_LEN; i++) out += ENCODING[random[i] & 31];
  return out;
}

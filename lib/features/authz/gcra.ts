/**
 * The generic cell rate algorithm (GCRA), as in redis-cell and Heroku's API limiter: the state is
 * one number, the theoretical arrival time (TAT). Pure functions of (state, now); no I/O.
 */

/** A rate: `limit` requests per `windowMs`, of which up to `burst` may come at once. */
export interface GcraRate {
  limit: number;
  windowMs: number;
  burst: number;
}

/** The outcome of asking for `quantity` requests at `now`. */
export interface GcraResult {
  allowed: boolean;
  /** The TAT to store when allowed (the old one otherwise). */
  tat: number;
  /** Requests still available right after this decision. */
  remaining: number;
  /** Milliseconds until the allowance is full again. */
  resetMs: number;
  /** Milliseconds until the request would be allowed (0 when allowed). */
  retryAfterMs: number;
}

// Float slack so that 0.9999999 of a request counts as one.
const EPSILON = 1e-9;

/** Milliseconds between two requests at the steady rate. */
function emissionMs(rate: GcraRate): number {
  return rate.windowMs / rate.limit;
}

/** How many requests could be taken at `now` given the stored TAT (null = never used). */
export function available(rate: GcraRate, tat: number | null, now: number): number {
  const t = emissionMs(rate);
  const base = tat === null || tat < now ? now : tat;
  return Math.max(0, Math.floor((now + rate.burst * t - base) / t + EPSILON));
}

/** Asks for `quantity` requests at `now`; allowed only if all of them fit. */
export function gcra(
  rate: GcraRate,
  tat: number | null,
  now: number,
  quantity = 1,
): GcraResult {
  const t = emissionMs(rate);
  const tolerance = rate.burst * t;
  const base = tat === null || tat < now ? now : tat;
  const next = base + quantity * t;
  const allowAt = next - tolerance;
  if (allowAt > now + EPSILON * t) {
    return {
      allowed: false,
      tat: base,
      remaining: available(rate, tat, now),
      resetMs: base - now,
      retryAfterMs: allowAt - now,
    };
  }
  return {
    allowed: true,
    tat: next,
    remaining: available(rate, next, now),
    resetMs: next - now,
    retryAfterMs: 0,
  };
}

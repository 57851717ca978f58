/**
 * Optimistic concurrency for Deno KV: read, compute, commit with `.check()` on what was read,
 * and on a lost race try again, a bounded number of times with a short jittered pause. When the
 * attempts run out the caller gets {@linkcode CasConflictError}, never a silent lost write.
 */

/** What an attempt returns when its commit lost a race (checks failed). */
export const CONFLICT: unique symbol = Symbol("conflict");

/** Thrown when every attempt lost its race. */
export class CasConflictError extends Error {
  readonly attempts: number;

  constructor(what: string, attempts: number) {
    super(`Too much contention on ${what}: gave up after ${attempts} attempts`);
    this.name = "CasConflictError";
    this.attempts = attempts;
  }
}

/** Options for {@linkcode casRetry}. */
export interface CasRetryOptions {
  /** Attempts in all (default 12). */
  maxAttempts?: number;
  /** Pause after the first conflict; doubles each time, with jitter (default 1 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called after each lost race (for metrics). */
  onConflict?: () => void;
}

/** Runs `attempt` until it returns something other than {@linkcode CONFLICT}. */
export async function casRetry<T>(
  what: string,
  attempt: (n: number) => Promise<T | typeof CONFLICT>,
  options: CasRetryOptions = {},
): Promise<T> {
  const max = options.maxAttempts ?? 12;
  const base = options.baseDelayMs ?? 1;
  const cap = options.maxDelayMs ?? 50;
  for (let n = 1; n <= max; n++) {
    const result = await attempt(n);
    if (result !== CONFLICT) return result;
    options.onConflict?.();
    if (n < max) {
      const delay = Math.min(cap, base * 2 ** (n - 1)) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  throw new CasConflictError(what, max);
}

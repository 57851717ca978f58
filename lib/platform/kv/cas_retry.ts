/**
 * Optimistic concurrency for Deno KV: read, compute, commit with `.check()` on what was read,
 * and on a lost race try again after a jittered pause that grows with each loss, until a
 * deadline. Contention alone never fails a write; only a missed deadline gives up, with
 * {@linkcode CasConflictError}, never a silent lost write. Writers of one key in this isolate
 * can queue in a lane instead of racing each other: a crowd then costs one commit per write,
 * not a storm of lost races (other isolates and regions still race, and retry).
 */

/** What an attempt returns when its commit lost a race (checks failed). */
export const CONFLICT: unique symbol = Symbol("conflict");

/** Thrown when no attempt committed before the deadline. */
export class CasConflictError extends Error {
  readonly attempts: number;
  readonly waitedMs: number;

  constructor(what: string, attempts: number, waitedMs: number) {
    super(
      `Too much contention on ${what}: no commit within ${Math.round(waitedMs)} ms ` +
        `(${attempts} attempts)`,
    );
    this.name = "CasConflictError";
    this.attempts = attempts;
    this.waitedMs = waitedMs;
  }
}

/** Options for {@linkcode casRetry}. */
export interface CasRetryOptions {
  /** Time allowed from the first attempt to the start of the last (default 5000 ms). */
  deadlineMs?: number;
  /** Upper bound of the first pause; doubles with each lost race (default 1 ms). */
  baseDelayMs?: number;
  /** Upper bound of any pause (default 100 ms). */
  maxDelayMs?: number;
  /** Called after each lost race (for metrics). */
  onConflict?: () => void;
  /** Stops retrying (the signal's reason is thrown). */
  signal?: AbortSignal;
  /** Monotonic milliseconds (tests). */
  now?: () => number;
  /** Pauses (tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1) (tests). */
  random?: () => number;
  /**
   * Queues this isolate's writers of the same `what` within this scope (the KV handle): each
   * waits for the one before it, within its own deadline.
   */
  lane?: object;
}

/** Defaults of {@linkcode casRetry}. */
const CAS_DEFAULTS: Readonly<
  Required<Pick<CasRetryOptions, "deadlineMs" | "baseDelayMs" | "maxDelayMs">>
> = {
  deadlineMs: 5000,
  baseDelayMs: 1,
  maxDelayMs: 100,
};

interface Settings {
  baseDelayMs: number;
  maxDelayMs: number;
  onConflict?: () => void;
  signal?: AbortSignal;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `attempt` (given its 1-based number) until it returns something other than
 * {@linkcode CONFLICT}. Pauses are "full jitter": uniform in [0, min(max, base × 2^(n-1))], so
 * writers that lost together spread out instead of colliding again in lockstep.
 */
export async function casRetry<T>(
  what: string,
  attempt: (n: number) => Promise<T | typeof CONFLICT>,
  options: CasRetryOptions = {},
): Promise<T> {
  const o: Settings = {
    baseDelayMs: options.baseDelayMs ?? CAS_DEFAULTS.baseDelayMs,
    maxDelayMs: options.maxDelayMs ?? CAS_DEFAULTS.maxDelayMs,
    onConflict: options.onConflict,
    signal: options.signal,
    now: options.now ?? (() => performance.now()),
    sleep: options.sleep ?? defaultSleep,
    random: options.random ?? Math.random,
  };
  const now = o.now;
  const started = now();
  const deadline = started + (options.deadlineMs ?? CAS_DEFAULTS.deadlineMs);
  const scope = options.lane;
  if (scope === undefined) return await attempts(what, attempt, o, started, deadline);
  const lanes = LANES.get(scope) ?? new Map<string, Promise<void>>();
  LANES.set(scope, lanes);
  const key = what;
  const before = lanes.get(key);
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = before === undefined ? mine : before.then(() => mine);
  lanes.set(key, tail);
  try {
    if (before !== undefined && !(await settlesBy(before, deadline - now()))) {
      throw new CasConflictError(what, 0, now() - started);
    }
    return await attempts(what, attempt, o, started, deadline);
  } finally {
    release();
    if (lanes.get(key) === tail) lanes.delete(key);
  }
}

/** Queues by scope (a KV handle) and key; entries leave when their queue empties. */
const LANES = new WeakMap<object, Map<string, Promise<void>>>();

/** True when `p` settles within `ms`. */
function settlesBy(p: Promise<void>, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  return Promise.race([p.then(() => true, () => true), late]).finally(() => clearTimeout(timer));
}

async function attempts<T>(
  what: string,
  attempt: (n: number) => Promise<T | typeof CONFLICT>,
  o: Settings,
  started: number,
  deadline: number,
): Promise<T> {
  for (let n = 1;; n++) {
    o.signal?.throwIfAborted();
    const result = await attempt(n);
    if (result !== CONFLICT) return result;
    o.onConflict?.();
    const t = o.now();
    if (t >= deadline) throw new CasConflictError(what, n, t - started);
    const ceiling = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.min(n - 1, 30));
    await o.sleep(Math.min(deadline - t, ceiling * o.random()));
  }
}

/**
 * Many deadlines of one duration on one timer. Every forwarded request has a deadline for the
 * origin's headers and one for its body; a timer set and cleared per request costs more than
 * the rest of the request's bookkeeping. Deadlines of one duration expire in the order they were
 * added, so one timer waiting for the oldest pending deadline serves them all.
 */

/** A pending deadline; pass it to {@linkcode DeadlineQueue.cancel} when the work is done. */
export interface Deadline {
  /** When it expires (on the queue's clock: `performance.now()` unless given another). */
  readonly at: number;
}

/** A pending deadline: a node of the queue's list (null `onExpire` once expired or cancelled). */
class Entry implements Deadline {
  readonly at: number;
  onExpire: (() => void) | null;
  prev: Entry | null = null;
  next: Entry | null = null;

  constructor(at: number, onExpire: () => void) {
    this.at = at;
    this.onExpire = onExpire;
  }
}

/** The time source and the one timer of a {@linkcode DeadlineQueue} (tests pass fakes). */
export interface DeadlineTimers {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  set(callback: () => void, delayMs: number): unknown;
  /** Whether a timer keeps the process alive (`Deno.refTimer` / `Deno.unrefTimer`). */
  ref(timer: unknown, keepAlive: boolean): void;
}

const REAL_TIMERS: DeadlineTimers = {
  now: () => performance.now(),
  set: (callback, delayMs) => setTimeout(callback, delayMs),
  ref(timer, keepAlive) {
    const id = timer as number;
    if (keepAlive) Deno.refTimer(id);
    else Deno.unrefTimer(id);
  },
};

/** Options of a {@linkcode DeadlineQueue}. */
export interface DeadlineQueueOptions {
  /** Called with what an expiry callback threw (default: `reportError`). */
  onError?: (error: unknown) => void;
  timers?: DeadlineTimers;
}

/**
 * Deadlines `ms` after they are added, all on one timer. The timer is not cleared when nothing is
 * pending, only let go of (it no longer keeps the process alive): requests come and go many
 * times within `ms`, and a timer made and cleared each time costs what one per request did.
 * When it fires with nothing due, it is not set again until something is pending.
 */
export class DeadlineQueue {
  readonly ms: number;
  /**
   * Pending deadlines, oldest first: insertion order is expiry order, as every one is `ms` after
   * the moment it was added. A linked list rather than a `Set`: a long-lived `Set` that many
   * short-lived objects pass through keeps them from dying young (measured: several times the
   * scavenge work).
   */
  #head: Entry | null = null;
  #tail: Entry | null = null;
  #size = 0;
  /** The armed timer (it fires at or before the oldest pending deadline), if any. */
  #timer: unknown = undefined;
  #keepsAlive = false;
  #firing = false;
  readonly #onError: (error: unknown) => void;
  readonly #timers: DeadlineTimers;

  constructor(ms: number, options: DeadlineQueueOptions = {}) {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`Invalid deadline: ${ms}`);
    this.ms = ms;
    this.#onError = options.onError ?? ((error) => reportError(error));
    this.#timers = options.timers ?? REAL_TIMERS;
  }

  /** Deadlines not yet expired nor cancelled. */
  get size(): number {
    return this.#size;
  }

  /** Calls `onExpire` once, `ms` from now, unless the deadline is cancelled first. */
  add(onExpire: () => void): Deadline {
    const entry = new Entry(this.#timers.now() + this.ms, onExpire);
    const tail = this.#tail;
    if (tail === null) this.#head = entry;
    else {
      tail.next = entry;
      entry.prev = tail;
    }
    this.#tail = entry;
    this.#size++;
    if (this.#firing) return entry; // `#fire` sets the timer for what is left
    // An armed timer fires at or before this deadline (the ones before it were added earlier).
    if (this.#timer === undefined) this.#arm(this.ms);
    else if (!this.#keepsAlive) this.#keepAlive(true);
    return entry;
  }

  /** Forgets a deadline (a no-op when it expired or was cancelled already). */
  cancel(deadline: Deadline): void {
    const entry = deadline as Entry;
    if (entry.onExpire === null) return;
    this.#unlink(entry);
    // Nothing pending: the timer may stay, but must not keep a process or a test alive.
    if (this.#size === 0 && this.#keepsAlive) this.#keepAlive(false);
  }

  #unlink(entry: Entry): void {
    entry.onExpire = null;
    const { prev, next } = entry;
    if (prev === null) this.#head = next;
    else prev.next = next;
    if (next === null) this.#tail = prev;
    else next.prev = prev;
    entry.prev = entry.next = null;
    this.#size--;
  }

  #arm(delayMs: number): void {
    this.#timer = this.#timers.set(this.#fire, Math.max(0, Math.ceil(delayMs)));
    this.#keepsAlive = true;
  }

  #keepAlive(on: boolean): void {
    this.#timers.ref(this.#timer, on);
    this.#keepsAlive = on;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#keepsAlive = false;
    this.#firing = true;
    const now = this.#timers.now();
    try {
      for (let entry = this.#head; entry !== null && entry.at <= now; entry = this.#head) {
        const onExpire = entry.onExpire!;
        this.#unlink(entry);
        try {
          onExpire();
        } catch (error) {
          this.#onError(error);
        }
      }
    } finally {
      this.#firing = false;
    }
    if (this.#head !== null) this.#arm(this.#head.at - this.#timers.now());
  };
}

/** A passive health tracker per origin: a circuit breaker fed by the outcomes of real requests. */

import type { Clock } from "../clock.ts";

/** Breaker settings. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker keeps the origin out before one trial request. */
  cooldownMs: number;
  clock: Clock;
  /** Called on every state change (for logs and metrics). */
  onTransition?: (origin: string, from: BreakerState, to: BreakerState, reason: string) => void;
}

export type BreakerState = "closed" | "open" | "half-open";

interface Entry {
  state: BreakerState;
  failures: number;
  openedAt: number;
  trialInFlight: boolean;
  lastError: string | null;
}

/** The state of one origin, as reported by {@linkcode OriginHealth.snapshot}. */
export interface OriginHealthSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  lastError: string | null;
  /** When an open breaker lets a trial through (ms since epoch); null when closed. */
  retryAt: number | null;
}

/** Tracks origins; `closed` admits all, `open` none, `half-open` exactly one trial at a time. */
export class OriginHealth {
  readonly #opts: BreakerOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(options: BreakerOptions) {
    if (!(options.failureThreshold >= 1)) {
      throw new RangeError(`Invalid failure threshold: ${options.failureThreshold}`);
    }
    if (!(options.cooldownMs >= 0)) throw new RangeError(`Invalid cooldown: ${options.cooldownMs}`);
    this.#opts = options;
  }

  #entry(origin: string): Entry {
    let e = this.#entries.get(origin);
    if (!e) {
      e = { state: "closed", failures: 0, openedAt: 0, trialInFlight: false, lastError: null };
      this.#entries.set(origin, e);
    }
    return e;
  }

  #move(origin: string, e: Entry, to: BreakerState, reason: string): void {
    if (e.state === to) return;
    const from = e.state;
    e.state = to;
    this.#opts.onTransition?.(origin, from, to, reason);
  }

  /** Whether a request may go to `origin` now, without reserving anything. */
  isAvailable(origin: string): boolean {
    const e = this.#entries.get(origin);
    if (!e || e.state === "closed") return true;
    if (e.state === "open") return this.#opts.clock.now() - e.openedAt >= this.#opts.cooldownMs;
    return !e.trialInFlight;
  }

  /**
   * Reserves a request to `origin`: true when it may be sent. An open breaker past its cool-down
   * becomes half-open and admits this one request as the trial.
   */
  tryAcquire(origin: string): boolean {
    const e = this.#entries.get(origin);
    if (!e || e.state === "closed") return true;
    if (e.state === "open") {
      if (this.#opts.clock.now() - e.openedAt < this.#opts.cooldownMs) return false;
      this.#move(origin, e, "half-open", "cool-down elapsed");
    }
    if (e.trialInFlight) return false;
    e.trialInFlight = true;
    return true;
  }

  /** Records a success: closes the breaker. */
  success(origin: string): void {
    const e = this.#entries.get(origin);
    if (!e) return;
    e.failures = 0;
    e.trialInFlight = false;
    this.#move(origin, e, "closed", "request succeeded");
  }

  /** Records a failure; opens the breaker at the threshold, or at once after a failed trial. */
  failure(origin: string, reason: string): void {
    const e = this.#entry(origin);
    e.failures++;
    e.lastError = reason.slice(0, 200);
    const failedTrial = e.state === "half-open";
    e.trialInFlight = false;
    if (failedTrial || e.failures >= this.#opts.failureThreshold) {
      e.openedAt = this.#opts.clock.now();
      this.#move(origin, e, "open", reason);
    }
  }

  /** Releases a reservation whose outcome says nothing about the origin (client went away). */
  release(origin: string): void {
    const e = this.#entries.get(origin);
    if (e) e.trialInFlight = false;
  }

  /** The earliest time an unavailable origin will admit a trial, or null if one is available. */
  nextRetryAt(origins: readonly string[]): number | null {
    let earliest: number | null = null;
    for (const o of origins) {
      if (this.isAvailable(o)) return null;
      const e = this.#entries.get(o)!;
      const at = e.state === "open" ? e.openedAt + this.#opts.cooldownMs : this.#opts.clock.now();
      if (earliest === null || at < earliest) earliest = at;
    }
    return earliest;
  }

  /** The state of every origin seen so far. */
  snapshot(): Record<string, OriginHealthSnapshot> {
    const out: Record<string, OriginHealthSnapshot> = {};
    for (const [origin, e] of this.#entries) {
      out[origin] = {
        state: e.state === "open" && this.isAvailable(origin) ? "half-open" : e.state,
        consecutiveFailures: e.failures,
        lastError: e.lastError,
        retryAt: e.state === "open" ? e.openedAt + this.#opts.cooldownMs : null,
      };
    }
    return out;
  }
}

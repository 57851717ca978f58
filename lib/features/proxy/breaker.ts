/**
 * Passive health of origins: circuit breakers fed by the outcomes of real requests. One circuit
 * per origin counts transport failures (refused or reset connections, timeouts, TLS errors);
 * with status counting on, one circuit per origin and path group counts the configured answers,
 * so one broken endpoint takes the origin out for that group only. When every candidate is out
 * the edge does not refuse by itself: it probes (or, in panic mode, just sends).
 */

import type { Clock } from "../../core/clock.ts";

/** What the forwarder does when every candidate origin is out of rotation. */
export type AllOutMode = "probe" | "panic";

/** Breaker settings. */
export interface BreakerOptions {
  /** Consecutive failures that open a circuit. */
  failureThreshold: number;
  /** How long an open circuit keeps its origin out (while others can serve) before a trial. */
  cooldownMs: number;
  clock: Clock;
  /**
   * Every candidate out: `panic` sends every request regardless (default); `probe` lets one
   * request through as a trial at once, and the next as soon as it finished.
   */
  whenAllOut?: AllOutMode;
  /** Most path-group circuits kept; the oldest closed ones are forgotten first (default 1000). */
  maxGroups?: number;
  /** Called on every state change (for logs and metrics); `group` is null for transport. */
  onTransition?: (
    origin: string,
    from: BreakerState,
    to: BreakerState,
    reason: string,
    group: string | null,
  ) => void;
}

export type BreakerState = "closed" | "open" | "half-open";

interface Circuit {
  origin: string;
  group: string | null;
  state: BreakerState;
  failures: number;
  openedAt: number;
  /** When the trial in flight started; null when none is. */
  trialAt: number | null;
  lastError: string | null;
}

/** One circuit's state, as reported by {@linkcode OriginHealth.snapshot}. */
export interface CircuitSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  lastError: string | null;
  /** When an open circuit next admits a trial while other origins serve; null when closed. */
  retryAt: number | null;
}

/** An origin's transport circuit, and its path groups' circuits when any are tracked. */
export interface OriginHealthSnapshot extends CircuitSnapshot {
  paths?: Record<string, CircuitSnapshot>;
}

/** Tracks origins: closed circuits admit all, open ones none, half-open ones one trial. */
export class OriginHealth {
  readonly #opts: BreakerOptions;
  readonly #mode: AllOutMode;
  readonly #maxGroups: number;
  readonly #origins = new Map<string, Circuit>();
  /** Path-group circuits by `origin + "\0" + group`, oldest first. */
  readonly #groups = new Map<string, Circuit>();

  constructor(options: BreakerOptions) {
    if (!(options.failureThreshold >= 1)) {
      throw new RangeError(`Invalid failure threshold: ${options.failureThreshold}`);
    }
    if (!(options.cooldownMs >= 0)) throw new RangeError(`Invalid cooldown: ${options.cooldownMs}`);
    this.#opts = options;
    this.#mode = options.whenAllOut ?? "panic";
    this.#maxGroups = options.maxGroups ?? 1000;
    if (!(this.#maxGroups >= 1)) throw new RangeError(`Invalid max groups: ${this.#maxGroups}`);
  }

  /** What happens when every candidate is out. */
  get whenAllOut(): AllOutMode {
    return this.#mode;
  }

  #circuits(origin: string, group: string | null): [Circuit | undefined, Circuit | undefined] {
    return [
      this.#origins.get(origin),
      group === null ? undefined : this.#groups.get(`${origin}\0${group}`),
    ];
  }

  #circuit(origin: string, group: string | null): Circuit {
    const map = group === null ? this.#origins : this.#groups;
    const key = group === null ? origin : `${origin}\0${group}`;
    let c = map.get(key);
    if (!c) {
      if (group !== null && map.size >= this.#maxGroups) this.#forgetOneGroup();
      c = {
        origin,
        group,
        state: "closed",
        failures: 0,
        openedAt: 0,
        trialAt: null,
        lastError: null,
      };
      map.set(key, c);
    }
    return c;
  }

  /** Forgets the oldest closed group circuit, or the oldest of all when none is closed. */
  #forgetOneGroup(): void {
    for (const [key, c] of this.#groups) {
      if (c.state === "closed" && c.trialAt === null) {
        this.#groups.delete(key);
        return;
      }
    }
    this.#groups.delete(this.#groups.keys().next().value!);
  }

  #move(c: Circuit, to: BreakerState, reason: string): void {
    if (c.state === to) return;
    const from = c.state;
    c.state = to;
    this.#opts.onTransition?.(c.origin, from, to, reason, c.group);
  }

  /** A trial not reported within a cool-down is presumed lost (its request never settled). */
  #trialBusy(c: Circuit, now: number): boolean {
    return c.trialAt !== null && now - c.trialAt < Math.max(this.#opts.cooldownMs, 1000);
  }

  /** Whether a circuit admits a request now in normal rotation (without reserving). */
  #admits(c: Circuit | undefined, now: number): boolean {
    if (!c || c.state === "closed") return true;
    if (c.state === "open" && now - c.openedAt < this.#opts.cooldownMs) return false;
    return !this.#trialBusy(c, now);
  }

  /** Whether a probe may go through a circuit now (cool-down ignored). */
  #probes(c: Circuit | undefined, now: number): boolean {
    return !c || c.state === "closed" || !this.#trialBusy(c, now);
  }

  /** Makes this request the trial of a circuit that is not closed. */
  #reserve(c: Circuit | undefined, now: number, reason: string): void {
    if (!c || c.state === "closed") return;
    if (c.state === "open") this.#move(c, "half-open", reason);
    c.trialAt = now;
  }

  /** Whether a request may go to `origin` (for `group`) now, without reserving anything. */
  isAvailable(origin: string, group: string | null = null): boolean {
    const [o, g] = this.#circuits(origin, group);
    // The common case, every circuit closed, needs no clock.
    if ((!o || o.state === "closed") && (!g || g.state === "closed")) return true;
    const now = this.#opts.clock.now();
    return this.#admits(o, now) && this.#admits(g, now);
  }

  /** True when no origin of `origins` is available for `group` (all out of rotation). */
  allOut(origins: Iterable<string>, group: string | null = null): boolean {
    for (const origin of origins) if (this.isAvailable(origin, group)) return false;
    return true;
  }

  /**
   * Reserves a request to `origin` in normal rotation: true when it may be sent. An open
   * circuit past its cool-down becomes half-open and admits this request as its trial.
   */
  tryAcquire(origin: string, group: string | null = null): boolean {
    const now = this.#opts.clock.now();
    const [o, g] = this.#circuits(origin, group);
    if (!this.#admits(o, now) || !this.#admits(g, now)) return false;
    this.#reserve(o, now, "cool-down elapsed");
    this.#reserve(g, now, "cool-down elapsed");
    return true;
  }

  /**
   * Reserves a request to `origin` when every candidate is out of rotation. In probe mode the
   * request becomes the trial unless one is in flight (the cool-down does not apply: the edge
   * has nowhere else to send it); in panic mode it is always sent.
   */
  tryProbe(origin: string, group: string | null = null): boolean {
    const now = this.#opts.clock.now();
    const [o, g] = this.#circuits(origin, group);
    if (this.#mode === "panic") return true;
    if (!this.#probes(o, now) || !this.#probes(g, now)) return false;
    this.#reserve(o, now, "probe: every origin out of rotation");
    this.#reserve(g, now, "probe: every origin out of rotation");
    return true;
  }

  /** Records an answer that counts as success: closes the origin's (and the group's) circuit. */
  success(origin: string, group: string | null = null): void {
    const [o, g] = this.#circuits(origin, group);
    for (const c of [o, g]) {
      if (!c) continue;
      c.failures = 0;
      c.trialAt = null;
      this.#move(c, "closed", "request succeeded");
    }
  }

  /** Records a transport failure (no answer); the group learns nothing and is released. */
  failure(origin: string, reason: string, group: string | null = null): void {
    this.#fail(this.#circuit(origin, null), reason);
    const g = group === null ? undefined : this.#groups.get(`${origin}\0${group}`);
    if (g) g.trialAt = null;
  }

  /** Records an answer counted against `group` (a configured status); the origin did answer. */
  statusFailure(origin: string, group: string, reason: string): void {
    this.success(origin, null);
    this.#fail(this.#circuit(origin, group), reason);
  }

  #fail(c: Circuit, reason: string): void {
    c.failures++;
    c.lastError = reason.slice(0, 200);
    const failedTrial = c.state === "half-open";
    c.trialAt = null;
    if (failedTrial || c.failures >= this.#opts.failureThreshold) {
      c.openedAt = this.#opts.clock.now();
      if (c.state === "open") return;
      this.#move(c, "open", reason);
    }
  }

  /** Releases a reservation whose outcome says nothing about the origin (client went away). */
  release(origin: string, group: string | null = null): void {
    for (const c of this.#circuits(origin, group)) if (c) c.trialAt = null;
  }

  /**
   * Origins of `origins` whose transport circuit opened within the last cool-down (recently
   * failing, not yet due for a trial). An idle node forgets them after a cool-down, so health
   * does not stay red for an origin nobody has tried since.
   */
  outOfRotation(origins: Iterable<string>): string[] {
    const now = this.#opts.clock.now();
    const out: string[] = [];
    for (const origin of origins) {
      const c = this.#origins.get(origin);
      if (c && c.state !== "closed" && now - c.openedAt < this.#opts.cooldownMs) out.push(origin);
    }
    return out;
  }

  #snap(c: Circuit, now: number): CircuitSnapshot {
    const due = c.state === "open" && now - c.openedAt >= this.#opts.cooldownMs;
    return {
      state: due ? "half-open" : c.state,
      consecutiveFailures: c.failures,
      lastError: c.lastError,
      retryAt: c.state === "open" ? c.openedAt + this.#opts.cooldownMs : null,
    };
  }

  /** Every origin seen so far, with the path groups that have a circuit. */
  snapshot(): Record<string, OriginHealthSnapshot> {
    const now = this.#opts.clock.now();
    const out: Record<string, OriginHealthSnapshot> = {};
    for (const [origin, c] of this.#origins) out[origin] = this.#snap(c, now);
    for (const c of this.#groups.values()) {
      const o = out[c.origin] ??= {
        state: "closed",
        consecutiveFailures: 0,
        lastError: null,
        retryAt: null,
      };
      (o.paths ??= {})[c.group!] = this.#snap(c, now);
    }
    return out;
  }

  /** True when some circuit (transport or group) is not closed. */
  troubled(): boolean {
    for (const c of this.#origins.values()) if (c.state !== "closed") return true;
    for (const c of this.#groups.values()) if (c.state !== "closed") return true;
    return false;
  }
}

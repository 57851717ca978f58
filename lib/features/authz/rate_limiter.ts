/**
 * GCRA rate limiting with its state in Deno KV, updated atomically (versionstamp check, retried
 * until a deadline), plus a per-isolate local allowance: when a subject is busy, an isolate takes several
 * requests from KV at once and admits them locally for up to `leaseMs`, so a hot path does not
 * pay a KV round trip per request. Taken requests are charged in KV when taken, so the global
 * limit is never exceeded; what is taken but unused when the lease ends is lost (under-admission,
 * measured in tests/features/authz/rate_limiter_test.ts and docs/authz.md). The lease size adapts to how
 * many requests the subject made during the last lease, so a slow client takes one at a time;
 * a busy subject's next lease is taken in the background when half of the current one is used,
 * so its requests rarely wait for KV at all.
 */

import type { Clock } from "../../core/clock.ts";
import { casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import { available, gcra, type GcraRate } from "./gcra.ts";
import { rateLimitKey, type RateSubject } from "./keys.ts";

/** A named rate-limit class. */
export interface RateClass extends GcraRate {
  name: string;
  windowS: number;
}

/** The limiter's answer for one request. */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Requests left after this one (an estimate on the local path). */
  remaining: number;
  /** Seconds until the allowance is full again. */
  resetS: number;
  /** Seconds until a limited request may be retried (0 when allowed). */
  retryAfterS: number;
  /** Whether KV was consulted. */
  kv: boolean;
}

/** Options for {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  kv: Deno.Kv;
  clock: Clock;
  localAllowance: number;
  leaseMs: number;
  maxLocalKeys?: number;
  /** Time a contended update may keep retrying before it fails (default: the CAS helper's). */
  deadlineMs?: number;
  /** Called when a stored state was not of the expected shape (then treated as empty). */
  onBadState?: (key: Deno.KvKey) => void;
  /** Called when a background refill fails (the requests that need it fail with it). */
  onRefillError?: (error: unknown) => void;
}

interface Local {
  /** Requests taken from KV and not yet used. */
  tokens: number;
  /** Until when those may be used. */
  leaseUntil: number;
  /** Requests taken since the lease began (used = leased - tokens). */
  leased: number;
  /** Size of the last refill. */
  last: number;
  /** TAT stored by this isolate's last commit (for the remaining estimate). */
  tat: number;
  /** Limited until then without asking KV (TAT only moves forward). */
  deniedUntil: number;
  /** A refill in flight, shared by concurrent requests. */
  refill: Promise<unknown> | null;
}

function isState(v: unknown): v is { tat: number } {
  return typeof v === "object" && v !== null && Number.isFinite((v as { tat: unknown }).tat);
}

/** GCRA over KV with a local allowance. */
export class RateLimiter {
  readonly #kv: Deno.Kv;
  readonly #clock: Clock;
  readonly #allowance: number;
  readonly #leaseMs: number;
  readonly #maxKeys: number;
  readonly #deadlineMs: number | undefined;
  readonly #onBadState: (key: Deno.KvKey) => void;
  readonly #onRefillError: (error: unknown) => void;
  readonly #local = new Map<string, Local>();
  /** KV commits made (for the accuracy measurements). */
  kvCommits = 0;

  constructor(options: RateLimiterOptions) {
    this.#kv = options.kv;
    this.#clock = options.clock;
    this.#allowance = options.localAllowance;
    this.#leaseMs = options.leaseMs;
    this.#maxKeys = options.maxLocalKeys ?? 10_000;
    this.#deadlineMs = options.deadlineMs;
    this.#onBadState = options.onBadState ?? (() => {});
    this.#onRefillError = options.onRefillError ?? (() => {});
  }

  /** Resolves when no refill is in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (true) {
      const running = [...this.#local.values()].flatMap((l) => l.refill ? [l.refill] : []);
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  /** Takes one request for `subject` in `rate`; synchronous when the local allowance answers. */
  take(rate: RateClass, subject: RateSubject): RateDecision | Promise<RateDecision> {
    const id = `${rate.name}\u0000${subject.kind}\u0000${subject.id}`;
    const local = this.#local.get(id);
    if (local !== undefined) {
      const fast = this.#fromLocal(rate, subject, local);
      if (fast !== null) return fast;
    }
    return this.#slow(rate, subject, id);
  }

  #fromLocal(rate: RateClass, subject: RateSubject, local: Local): RateDecision | null {
    const now = this.#clock.now();
    if (local.deniedUntil > now) {
      return this.#limited(rate, local.deniedUntil - now, Math.max(0, local.tat - now), false);
    }
    if (local.tokens > 0 && now < local.leaseUntil) {
      local.tokens--;
      // Half of a busy lease used: take the next one in the background.
      if (local.refill === null && local.last > 1 && local.tokens <= local.last >> 1) {
        this.#start(rate, subject, local, false).catch(this.#onRefillError);
      }
      return {
        allowed: true,
        limit: rate.limit,
        remaining: available(rate, local.tat, now) + local.tokens,
        resetS: Math.ceil(Math.max(0, local.tat - now) / 1000),
        retryAfterS: 0,
        kv: false,
      };
    }
    return null;
  }

  #limited(rate: RateClass, retryMs: number, resetMs: number, kv: boolean): RateDecision {
    return {
      allowed: false,
      limit: rate.limit,
      remaining: 0,
      resetS: Math.ceil(resetMs / 1000),
      retryAfterS: Math.max(1, Math.ceil(retryMs / 1000)),
      kv,
    };
  }

  async #slow(rate: RateClass, subject: RateSubject, id: string): Promise<RateDecision> {
    // Requests arriving while a refill is in flight wait for it rather than take their own lease;
    // each refill either grants requests or records a denial, so this loop makes progress.
    for (let round = 0; round < 100; round++) {
      const local = this.#local.get(id);
      if (local?.refill == null) break;
      await local.refill.catch(() => {});
      const fast = this.#fromLocal(rate, subject, local);
      if (fast !== null) return fast;
    }
    let local = this.#local.get(id);
    if (local === undefined) {
      if (this.#local.size >= this.#maxKeys) this.#evict();
      local = {
        tokens: 0,
        leaseUntil: 0,
        leased: 0,
        last: 0,
        tat: 0,
        deniedUntil: 0,
        refill: null,
      };
      this.#local.set(id, local);
    }
    return (await this.#start(rate, subject, local, true))!;
  }

  /** Runs one refill as the subject's only one in flight. */
  async #start(
    rate: RateClass,
    subject: RateSubject,
    local: Local,
    forRequest: boolean,
  ): Promise<RateDecision | null> {
    const running = this.#refill(rate, subject, local, forRequest);
    local.refill = running;
    try {
      return await running;
    } finally {
      local.refill = null;
    }
  }

  /** Drops the oldest subjects that hold nothing (or the oldest of all). */
  #evict(): void {
    const now = this.#clock.now();
    let dropped = 0;
    for (const [key, l] of this.#local) {
      if (l.refill === null && (l.leaseUntil <= now && l.deniedUntil <= now)) {
        this.#local.delete(key);
        if (++dropped >= 64) return;
      }
    }
    if (dropped === 0) this.#local.delete(this.#local.keys().next().value!);
  }

  /**
   * Takes a lease from KV. For a waiting request (`forRequest`) one of it is used at once and a
   * refusal is remembered until the retry time; a background refill adds to what is held.
   */
  async #refill(
    rate: RateClass,
    subject: RateSubject,
    local: Local,
    forRequest: boolean,
  ): Promise<RateDecision | null> {
    const key = rateLimitKey(rate.name, subject);
    const start = this.#clock.now();
    const fresh = local.tokens === 0 || start >= local.leaseUntil;
    // The lease follows demand: double after a lease used up, else what was used.
    const used = local.leased - local.tokens;
    const want = !fresh
      ? Math.min(this.#allowance, local.last * 2)
      : local.leased === 0
      ? 1
      : used >= local.leased
      ? Math.min(this.#allowance, local.leased * 2)
      : Math.max(1, used);
    return await casRetry(`rate limit ${rate.name} of ${subject.kind} ${subject.id}`, async (n) => {
      // An eventual read is enough for the first try: the versionstamp check catches staleness.
      const entry = await this.#kv.get(key, { consistency: n === 1 ? "eventual" : "strong" });
      let tat: number | null = null;
      if (entry.value !== null) {
        if (isState(entry.value)) tat = entry.value.tat;
        else this.#onBadState(key);
      }
      const now = this.#clock.now();
      const free = available(rate, tat, now);
      if (free < 1) {
        if (!forRequest) return null; // keep using what is held
        const r = gcra(rate, tat, now);
        local.tokens = 0;
        local.leased = 0;
        local.last = 0;
        local.tat = r.tat;
        local.deniedUntil = now + r.retryAfterMs;
        return this.#limited(rate, r.retryAfterMs, r.resetMs, true);
      }
      const quantity = Math.min(want, free);
      const r = gcra(rate, tat, now, quantity);
      const expireIn = Math.max(1000, Math.ceil(r.tat - now) + 1000);
      const res = await this.#kv.atomic().check(entry).set(key, { tat: r.tat }, { expireIn })
        .commit();
      if (!res.ok) return CONFLICT;
      this.kvCommits++;
      const keep = fresh && forRequest ? 0 : local.tokens; // an expired lease's rest is lost
      local.tokens = keep + quantity - (forRequest ? 1 : 0);
      local.leased = (fresh && forRequest ? 0 : local.leased) + quantity;
      local.last = quantity;
      local.leaseUntil = now + this.#leaseMs;
      local.tat = r.tat;
      local.deniedUntil = 0;
      if (!forRequest) return null;
      return {
        allowed: true,
        limit: rate.limit,
        remaining: r.remaining + local.tokens,
        resetS: Math.ceil(r.resetMs / 1000),
        retryAfterS: 0,
        kv: true,
      };
    }, { lane: this.#kv, deadlineMs: this.#deadlineMs });
  }
}

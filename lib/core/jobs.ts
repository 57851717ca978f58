/**
 * Background jobs (revalidation sweeps, sync, flushes): each runs on an interval, never
 * overlaps itself, logs and counts its failures with context, and backs off while it fails.
 */

import { type Clock, systemClock } from "./clock.ts";
import type { Logger } from "./log.ts";
import { type Counter, MetricsRegistry } from "./metrics.ts";

/** A job's schedule and body. */
export interface JobSpec {
  name: string;
  intervalMs: number;
  run: (signal: AbortSignal) => Promise<void>;
  /** Cap on the back-off delay after consecutive failures (default 10 × interval). */
  maxBackoffMs?: number;
}

/** Counters for one job. */
export interface JobStats {
  runs: number;
  failures: number;
  consecutiveFailures: number;
  lastError: string | null;
  lastRunAt: number | null;
  running: boolean;
}

interface JobState {
  spec: JobSpec;
  stats: JobStats;
  timer: ReturnType<typeof setTimeout> | undefined;
  current: Promise<void> | null;
}

/** Runs registered jobs on timers once started; tests call `runNow` instead. */
export class Jobs {
  readonly #jobs = new Map<string, JobState>();
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #runs: Counter;
  readonly #failures: Counter;
  readonly #abort = new AbortController();
  #started = false;
  #stopped = false;

  constructor(log: Logger, clock: Clock = systemClock, metrics = new MetricsRegistry()) {
    this.#log = log;
    this.#clock = clock;
    this.#runs = metrics.counter("outpost_job_runs_total", "Background job runs, by job");
    this.#failures = metrics.counter(
      "outpost_job_failures_total",
      "Background job runs that failed, by job",
    );
  }

  /** Registers a job; it starts with the others on {@linkcode Jobs.start}. */
  add(spec: JobSpec): void {
    if (this.#jobs.has(spec.name)) throw new Error(`Job already registered: ${spec.name}`);
    if (!(spec.intervalMs > 0)) throw new RangeError(`Invalid job interval: ${spec.intervalMs}`);
    const state: JobState = {
      spec,
      timer: undefined,
      current: null,
      stats: {
        runs: 0,
        failures: 0,
        consecutiveFailures: 0,
        lastError: null,
        lastRunAt: null,
        running: false,
      },
    };
    this.#jobs.set(spec.name, state);
    if (this.#started && !this.#stopped) this.#schedule(state, spec.intervalMs);
  }

  /** Starts every job's timer. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const state of this.#jobs.values()) this.#schedule(state, state.spec.intervalMs);
  }

  /** Runs one job now (awaiting it); a run already in flight is awaited instead. */
  async runNow(name: string): Promise<void> {
    const state = this.#jobs.get(name);
    if (!state) throw new Error(`Unknown job: ${name}`);
    await this.#run(state);
  }

  /** How many jobs there are, and the ones whose last run failed (cheap: no copies). */
  summary(): {
    total: number;
    failing: Record<string, { consecutive_failures: number; last_error: string | null }>;
  } {
    const failing: Record<string, { consecutive_failures: number; last_error: string | null }> = {};
    for (const [name, { stats }] of this.#jobs) {
      if (stats.consecutiveFailures > 0) {
        failing[name] = {
          consecutive_failures: stats.consecutiveFailures,
          last_error: stats.lastError,
        };
      }
    }
    return { total: this.#jobs.size, failing };
  }

  /** Each job's counters. */
  stats(): Record<string, JobStats> {
    const out: Record<string, JobStats> = {};
    for (const [name, s] of this.#jobs) out[name] = { ...s.stats };
    return out;
  }

  /** Stops timers, signals running jobs, and waits up to `graceMs` for them to finish. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopped = true;
    for (const state of this.#jobs.values()) clearTimeout(state.timer);
    const running = [...this.#jobs.values()].map((s) => s.current).filter((p) => p !== null);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(running),
      new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    this.#abort.abort(new Error("shutting down"));
  }

  #schedule(state: JobState, delayMs: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(async () => {
      await this.#run(state);
      const { consecutiveFailures } = state.stats;
      const interval = state.spec.intervalMs;
      const max = state.spec.maxBackoffMs ?? interval * 10;
      const delay = consecutiveFailures === 0
        ? interval
        : Math.min(max, interval * 2 ** Math.min(consecutiveFailures, 20)) *
          (0.5 + Math.random() / 2);
      this.#schedule(state, delay);
    }, delayMs);
    state.timer = timer;
  }

  #run(state: JobState): Promise<void> {
    if (state.current) return state.current;
    state.stats.running = true;
    state.current = (async () => {
      try {
        await state.spec.run(this.#abort.signal);
        state.stats.consecutiveFailures = 0;
      } catch (error) {
        this.#failures.inc({ job: state.spec.name });
        state.stats.failures++;
        state.stats.consecutiveFailures++;
        state.stats.lastError = error instanceof Error ? error.message : String(error);
        this.#log.error("background job failed", {
          job: state.spec.name,
          consecutive_failures: state.stats.consecutiveFailures,
          error,
        });
      } finally {
        this.#runs.inc({ job: state.spec.name });
        state.stats.runs++;
        state.stats.lastRunAt = this.#clock.now();
        state.stats.running = false;
        state.current = null;
      }
    })();
    return state.current;
  }
}

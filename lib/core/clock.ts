/** Time for everything that ages: one injectable source, so tests never sleep. */

/** A source of wall-clock time in milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests and simulations. */
export class ManualClock implements Clock {
  #now: number;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward by `ms` milliseconds. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Cannot move time backwards: ${ms}`);
    this.#now += ms;
  }

  /** Sets the time to an absolute instant. */
  set(ms: number): void {
    this.#now = ms;
  }
}

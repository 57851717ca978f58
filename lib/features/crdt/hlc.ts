/**
 * Hybrid logical clocks (Kulkarni et al. 2014): timestamps that follow physical time when clocks
 * agree, never go backwards, and always order an event after everything its replica has seen,
 * even when a peer's clock is ahead. The replica id breaks ties, so the order is total.
 */

import type { Clock } from "../../core/clock.ts";
import type { ReplicaId } from "./dots.ts";

/** A hybrid logical timestamp. */
export interface HlcTimestamp {
  /** Milliseconds since the epoch: the largest physical time seen. */
  readonly wall: number;
  /** Events within the same `wall` millisecond. */
  readonly logical: number;
  /** The replica that made the event; breaks ties. */
  readonly replica: ReplicaId;
}

/** Orders timestamps: wall time, then logical counter, then replica id. */
export function compareHlc(a: HlcTimestamp, b: HlcTimestamp): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0;
}

/** The timestamp of a local event after `last`, at physical time `physical`. */
function hlcNext(
  last: HlcTimestamp | null,
  physical: number,
  replica: ReplicaId,
): HlcTimestamp {
  if (last === null || physical > last.wall) return { wall: physical, logical: 0, replica };
  return { wall: last.wall, logical: last.logical + 1, replica };
}

/** The clock after receiving `remote`: above both it and everything seen before. */
function hlcObserve(
  last: HlcTimestamp | null,
  remote: HlcTimestamp,
  physical: number,
  replica: ReplicaId,
): HlcTimestamp {
  const lastWall = last?.wall ?? -1;
  const wall = Math.max(lastWall, remote.wall, physical);
  let logical = 0;
  if (wall === lastWall && wall === remote.wall) {
    logical = Math.max(last!.logical, remote.logical) + 1;
  } else if (wall === lastWall) logical = last!.logical + 1;
  else if (wall === remote.wall) logical = remote.logical + 1;
  return { wall, logical, replica };
}

/** Thrown when a remote timestamp is further ahead of our clock than allowed. */
export class ClockDriftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClockDriftError";
  }
}

/** A replica's hybrid clock (in memory; persisted timestamps are observed on read). */
export class HybridClock {
  readonly #replica: ReplicaId;
  readonly #clock: Clock;
  readonly #maxDriftMs: number;
  #last: HlcTimestamp | null = null;

  constructor(replica: ReplicaId, clock: Clock, maxDriftMs = 60_000) {
    this.#replica = replica;
    this.#clock = clock;
    this.#maxDriftMs = maxDriftMs;
  }

  /** A fresh timestamp for a local event, after everything observed. */
  now(): HlcTimestamp {
    this.#last = hlcNext(this.#last, this.#clock.now(), this.#replica);
    return this.#last;
  }

  /** Moves the clock past `remote` (check untrusted timestamps with `checkDrift` first). */
  observe(remote: HlcTimestamp): void {
    this.#last = hlcObserve(this.#last, remote, this.#clock.now(), this.#replica);
  }

  /** Throws {@linkcode ClockDriftError} when `remote` is further ahead than allowed. */
  checkDrift(remote: HlcTimestamp): void {
    const ahead = remote.wall - this.#clock.now();
    if (ahead > this.#maxDriftMs) {
      throw new ClockDriftError(`Timestamp is ${ahead} ms ahead of this node's clock`);
    }
  }
}

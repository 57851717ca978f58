/**
 * `CrdtStore`: this node's replicas of every counter, set and register, kept in Deno KV. Local
 * operations and remote merges go through here; the per-type KV logic lives in
 * `counter_store.ts`, `set_store.ts`, `set_merge.ts` and `register_store.ts`.
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import { changeCounter, mergeCounter, readCounter } from "./counter_store.ts";
import { HybridClock } from "./hlc.ts";
import { type CrdtType, indexPrefix } from "./keys.ts";
import type { LwwRegister } from "./lww.ts";
import { CrdtNameSchema } from "./names.ts";
import { gcLog, type LogEntry, readLog } from "./oplog.ts";
import type { OrSet } from "./orset.ts";
import type { PNCounter } from "./pncounter.ts";
import { mergeRegister, readRegister, writeRegister } from "./register_store.ts";
import type { ReplicaIdentity } from "./replica.ts";
import { listElementPage, type SetChunk } from "./set_kv.ts";
import { mergeSetChunk, mergeSetDelta } from "./set_merge.ts";
import { addElement, readSet, readSetChunks, readSetElements, removeElement } from "./set_store.ts";
import { type CrdtLimits, crdtMetrics, reportInvalid, type StoreContext } from "./store_context.ts";

/** What a store is built from. */
export interface CrdtStoreOptions {
  kv: Deno.Kv;
  clock: Clock;
  identity: ReplicaIdentity;
  limits: CrdtLimits;
  logRetentionMs: number;
  maxClockDriftMs: number;
  metrics: MetricsRegistry;
  log: Logger;
}

/** A replicated object, as listed for a full sync. */
export interface CrdtObject {
  type: CrdtType;
  name: string;
}

/** This node's CRDT replicas in KV. */
export class CrdtStore {
  /** The replica id that names this node's counter slots and dots. */
  readonly replica: string;
  /** The random id of this node's KV database. */
  readonly kvId: string;
  /** This node's hybrid logical clock (registers). */
  readonly hlc: HybridClock;
  readonly #ctx: StoreContext;

  constructor(options: CrdtStoreOptions) {
    this.replica = options.identity.replica;
    this.kvId = options.identity.kvId;
    this.hlc = new HybridClock(this.replica, options.clock, options.maxClockDriftMs);
    this.#ctx = {
      kv: options.kv,
      clock: options.clock,
      replica: this.replica,
      hlc: this.hlc,
      limits: options.limits,
      logRetentionMs: options.logRetentionMs,
      metrics: crdtMetrics(options.metrics),
      log: options.log,
    };
  }

  /** Adds `by` to a counter at this replica; the state after (at least this increment). */
  increment(name: string, by: number): Promise<PNCounter> {
    return changeCounter(this.#ctx, name, "p", by);
  }

  /** Subtracts `by` from a counter at this replica. */
  decrement(name: string, by: number): Promise<PNCounter> {
    return changeCounter(this.#ctx, name, "n", by);
  }

  /** A counter's merged state (every replica's slots this node knows). */
  counter(name: string, consistency?: Deno.KvConsistencyLevel): Promise<PNCounter> {
    return readCounter(this.#ctx, name, consistency);
  }

  /** Adds an element; true when it was absent. */
  add(name: string, element: string): Promise<boolean> {
    return addElement(this.#ctx, name, element);
  }

  /** Removes an element; true when it was present. */
  remove(name: string, element: string): Promise<boolean> {
    return removeElement(this.#ctx, name, element);
  }

  /** A set's live elements. */
  elements(name: string, consistency?: Deno.KvConsistencyLevel): Promise<string[]> {
    return readSetElements(this.#ctx, name, consistency);
  }

  /** One page of a set's live elements (see `listElementPage`). */
  elementPage(
    name: string,
    after: string | null,
    limit: number,
  ): Promise<{ elements: string[]; more: boolean }> {
    return listElementPage(this.#ctx, name, after, limit);
  }

  /** A set's full state. */
  set(name: string): Promise<OrSet> {
    return readSet(this.#ctx, name);
  }

  /** A set's full state in chunks of about `maxBytes`. */
  setChunks(name: string, maxBytes: number): AsyncGenerator<SetChunk> {
    return readSetChunks(this.#ctx, name, maxBytes);
  }

  /** Writes a register. */
  write(name: string, value: unknown): Promise<LwwRegister> {
    return writeRegister(this.#ctx, name, value);
  }

  /** A register (null when never written). */
  register(name: string): Promise<LwwRegister | null> {
    return readRegister(this.#ctx, name);
  }

  /** Merges a remote counter; true when anything changed (then relayed when `relay`). */
  mergeCounter(name: string, remote: PNCounter, relay = true): Promise<boolean> {
    return mergeCounter(this.#ctx, name, remote, relay);
  }

  /** Merges a set delta; true when anything changed (then relayed when `relay`). */
  mergeSetDelta(name: string, delta: OrSet, relay = true): Promise<boolean> {
    return mergeSetDelta(this.#ctx, name, delta, relay);
  }

  /** Merges a chunk of a set's full state; true when anything changed. */
  mergeSetChunk(name: string, chunk: SetChunk): Promise<boolean> {
    return mergeSetChunk(this.#ctx, name, chunk);
  }

  /** Merges a remote register; true when it won (then relayed when `relay`). */
  mergeRegister(name: string, remote: LwwRegister, relay = true): Promise<boolean> {
    return mergeRegister(this.#ctx, name, remote, relay);
  }

  /** Every object this node has a replica of. */
  async *objects(): AsyncGenerator<CrdtObject> {
    for await (const e of this.#ctx.kv.list({ prefix: indexPrefix() }, { batchSize: 500 })) {
      const [, , type, name] = e.key;
      if (
        (type === "counter" || type === "set" || type === "register") &&
        CrdtNameSchema.safeParse(name).success
      ) {
        yield { type, name: name as string };
      } else reportInvalid(this.#ctx, "set", e.key);
    }
  }

  /** Logged local operations at or after `from` (ms), oldest first. */
  log(from: number): AsyncGenerator<LogEntry> {
    return readLog(this.#ctx.kv, from, (key) => reportInvalid(this.#ctx, "set", key));
  }

  /** Trims the operation log to its retention; returns how many entries went. */
  trimLog(): Promise<number> {
    return gcLog(this.#ctx.kv, this.#ctx.clock.now() - this.#ctx.logRetentionMs);
  }
}

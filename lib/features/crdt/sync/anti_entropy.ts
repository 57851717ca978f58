/**
 * Anti-entropy: the background job that pushes this replica's changes to every configured peer
 * (`POST <peer>/_edge/sync`). Normally it sends deltas: the logged operations since the peer's
 * cursor (set ops as joined deltas, counters and registers whole). A new peer, a peer whose
 * database changed, one further behind than the log keeps, and every peer once per
 * `sync.fullEveryMs` get the full state instead. Delivery is at-least-once: the cursor moves
 * only after the peer acknowledged, and merges are idempotent, so a retry is always safe.
 * Each peer has its own back-off; a slow or dead peer never delays the others or any request.
 */

import type { Clock } from "../../../core/clock.ts";
import type { CrdtStore } from "../store.ts";
import type { LogEntry } from "../oplog.ts";
import { type OrSet, orsetJoinDeltas } from "../orset.ts";
import type { Logger } from "../../../core/log.ts";
import type { MetricsRegistry } from "../../../core/metrics.ts";
import { loadPeer, type PeerRecord, savePeer } from "./peer_state.ts";
import {
  counterObject,
  registerObject,
  setChunkObject,
  setDeltaObject,
  type SyncAck,
} from "./protocol.ts";
import { PeerClient } from "./peer_client.ts";

/** Operations commit within this long of the time they are logged at; older ones are settled. */
export const SETTLE_MS = 5_000;
/** How far an idle round lets the cursor fall behind before saving it. */
const IDLE_SAVE_MS = 60_000;
/** Log entries per delta round. */
const BATCH_ENTRIES = 1000;

/** Options for {@linkcode AntiEntropy}. */
export interface AntiEntropyOptions {
  store: () => Promise<CrdtStore>;
  kv: Deno.Kv;
  clock: Clock;
  fetch: typeof fetch;
  log: Logger;
  metrics: MetricsRegistry;
  peers: readonly string[];
  token: string;
  intervalMs: number;
  timeoutMs: number;
  maxBackoffMs: number;
  fullEveryMs: number;
  logRetentionMs: number;
  maxBodyBytes: number;
}

interface PeerRuntime {
  url: string;
  failures: number;
  nextAttemptAt: number;
  lastError: string | null;
  inFlight: Promise<void> | null;
  /** The peer turned out to be this replica. */
  self: boolean;
  /** Log entries delivered recently (id → time), so the settle window is not resent. */
  sent: Map<string, number>;
}

/** What one sync round did. */
export interface SyncRound {
  kind: "delta" | "full" | "idle";
  requests: number;
  objects: number;
}

/** A peer's status for `GET /_edge/sync`. */
export interface PeerStatus extends PeerRecord {
  url: string;
  failures: number;
  lastError: string | null;
  nextAttemptAt: number | null;
  self: boolean;
}

/** Pushes this replica's state to its peers. */
export class AntiEntropy {
  readonly #o: AntiEntropyOptions;
  readonly #peers: PeerRuntime[];
  readonly #client: PeerClient;

  constructor(options: AntiEntropyOptions) {
    this.#o = options;
    this.#peers = options.peers.map((url) => ({
      url,
      failures: 0,
      nextAttemptAt: 0,
      lastError: null,
      inFlight: null,
      self: false,
      sent: new Map(),
    }));
    this.#client = new PeerClient(options);
  }

  /**
   * The job body: starts a round for every peer that is due and idle, then waits for them,
   * but never longer than one interval (a hanging peer finishes in the background).
   */
  async run(signal?: AbortSignal): Promise<void> {
    const now = this.#o.clock.now();
    for (const peer of this.#peers) {
      if (peer.inFlight || peer.self || peer.nextAttemptAt > now) continue;
      peer.inFlight = this.#attempt(peer, signal).finally(() => (peer.inFlight = null));
    }
    const running = this.#peers.flatMap((p) => (p.inFlight ? [p.inFlight] : []));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(running),
      new Promise((resolve) => (timer = setTimeout(resolve, Math.max(this.#o.intervalMs, 1000)))),
    ]);
    clearTimeout(timer);
  }

  async #attempt(peer: PeerRuntime, signal?: AbortSignal): Promise<void> {
    try {
      await this.syncPeer(peer.url, { signal });
      peer.failures = 0;
      peer.nextAttemptAt = 0;
      peer.lastError = null;
    } catch (error) {
      peer.failures++;
      const delay = Math.min(this.#o.maxBackoffMs, this.#o.intervalMs * 2 ** peer.failures) *
        (0.5 + Math.random() / 2);
      peer.nextAttemptAt = this.#o.clock.now() + delay;
      peer.lastError = error instanceof Error ? error.message : String(error);
      this.#o.log.warn("sync to peer failed", {
        peer: peer.url,
        consecutive_failures: peer.failures,
        retry_in_ms: Math.round(delay),
        error,
      });
    }
    this.#o.metrics.gauge(
      "outpost_sync_peer_consecutive_failures",
      "Consecutive failed sync rounds, by peer",
    ).set(peer.failures, { peer: peer.url });
  }

  /** Runs one round with `url` now (full state when `full` or when the peer needs it). */
  async syncPeer(
    url: string,
    options: { full?: boolean; signal?: AbortSignal } = {},
  ): Promise<SyncRound> {
    const peer = this.#peers.find((p) => p.url === url);
    if (!peer) throw new Error(`Unknown peer: ${url}`);
    const store = await this.#o.store();
    const record = await loadPeer(this.#o.kv, store.replica, url);
    const now = this.#o.clock.now();
    const stale = record.cursor === null || record.lastFullAt === null ||
      now - record.lastFullAt >= this.#o.fullEveryMs ||
      record.cursor < now - this.#o.logRetentionMs + SETTLE_MS;
    if (options.full || stale) return await this.#full(peer, store, options.signal);
    return await this.#delta(peer, store, record, options.signal);
  }

  async #full(peer: PeerRuntime, store: CrdtStore, signal?: AbortSignal): Promise<SyncRound> {
    const startedAt = this.#o.clock.now();
    // Logged ops already committed are in the full state; remember them so the next delta
    // round does not send the settle window again.
    const covered = await Array.fromAsync(store.log(startedAt - 2 * SETTLE_MS));
    const batch = this.#client.batch(peer.url, store, "full", signal);
    const chunkBytes = Math.floor(this.#client.budget / 2);
    for await (const { type, name } of store.objects()) {
      if (type === "counter") await batch.add(counterObject(name, await store.counter(name)));
      else if (type === "register") {
        const reg = await store.register(name);
        if (reg) await batch.add(registerObject(name, reg));
      } else {
        for await (const chunk of store.setChunks(name, chunkBytes)) {
          await batch.add(setChunkObject(name, chunk));
        }
      }
    }
    const ack = await batch.finish(true);
    if (this.#isSelf(peer, store, ack!)) return { kind: "full", requests: 0, objects: 0 };
    await savePeer(this.#o.kv, store.replica, peer.url, {
      cursor: startedAt - SETTLE_MS,
      lastFullAt: startedAt,
      lastOkAt: this.#o.clock.now(),
      peerReplica: ack!.replica,
      peerKvId: ack!.kvId,
    });
    peer.sent.clear();
    for (const e of covered) peer.sent.set(e.id, e.at);
    this.#o.log.info("full sync sent", { peer: peer.url, requests: batch.requests });
    return { kind: "full", requests: batch.requests, objects: batch.objects };
  }

  async #delta(
    peer: PeerRuntime,
    store: CrdtStore,
    record: PeerRecord,
    signal?: AbortSignal,
  ): Promise<SyncRound> {
    const now = this.#o.clock.now();
    const pending: LogEntry[] = [];
    let truncated = false;
    for await (const entry of store.log(record.cursor! - SETTLE_MS)) {
      if (peer.sent.has(entry.id)) continue;
      if (pending.length >= BATCH_ENTRIES) {
        truncated = true;
        break;
      }
      pending.push(entry);
    }
    let ack: SyncAck | null = null;
    const batch = this.#client.batch(peer.url, store, "delta", signal);
    if (pending.length > 0) {
      for (const object of await this.#deltaObjects(store, pending)) await batch.add(object);
      ack = await batch.finish(false);
      if (ack && this.#isSelf(peer, store, ack)) return { kind: "delta", requests: 0, objects: 0 };
      if (ack && record.peerKvId !== null && ack.kvId !== record.peerKvId) {
        // The peer's database is new: it lost what we sent before. Start over with everything.
        this.#o.log.warn("sync peer database changed; sending full state", { peer: peer.url });
        await savePeer(this.#o.kv, store.replica, peer.url, {
          ...record,
          cursor: null,
          reset: true,
        });
        return await this.#full(peer, store, signal);
      }
    }
    const cursor = Math.max(
      record.cursor!,
      truncated ? Math.min(pending.at(-1)!.at, now - SETTLE_MS) : now - SETTLE_MS,
    );
    // An idle round only moves the cursor now and then (one KV write a minute, not a second).
    const save = pending.length > 0 || cursor - record.cursor! >= IDLE_SAVE_MS;
    if (save) {
      await savePeer(this.#o.kv, store.replica, peer.url, {
        ...record,
        cursor,
        lastOkAt: ack ? this.#o.clock.now() : record.lastOkAt,
      });
    }
    const saved = save ? cursor : record.cursor!;
    for (const e of pending) peer.sent.set(e.id, e.at);
    // Entries before the saved cursor's settle window are never read again.
    for (const [id, at] of peer.sent) if (at < saved - SETTLE_MS) peer.sent.delete(id);
    return {
      kind: pending.length > 0 ? "delta" : "idle",
      requests: batch.requests,
      objects: batch.objects,
    };
  }

  /** Groups log entries per object: counters and registers read whole, set deltas joined. */
  async #deltaObjects(store: CrdtStore, entries: LogEntry[]): Promise<unknown[]> {
    const groups = new Map<string, { type: LogEntry["type"]; name: string; deltas: OrSet[] }>();
    for (const e of entries) {
      const key = `${e.type}\u0000${e.name}`;
      let group = groups.get(key);
      if (!group) groups.set(key, group = { type: e.type, name: e.name, deltas: [] });
      if (e.delta) group.deltas.push(e.delta);
    }
    const objects: unknown[] = [];
    const maxJoined = Math.floor(this.#client.budget / 4);
    for (const { type, name, deltas } of groups.values()) {
      if (type === "counter") objects.push(counterObject(name, await store.counter(name)));
      else if (type === "register") {
        const reg = await store.register(name);
        if (reg) objects.push(registerObject(name, reg));
      } else {
        // Join consecutive deltas, starting a new group before one grows past a quarter body.
        let joined: OrSet | null = null;
        let size = 0;
        for (const d of deltas) {
          const bytes = 64 + d.entries.size * 80 + [...d.entries.keys()].join("").length * 3;
          if (joined && size + bytes > maxJoined) {
            objects.push(setDeltaObject(name, joined));
            joined = null;
            size = 0;
          }
          joined = joined ? orsetJoinDeltas(joined, d) : d;
          size += bytes;
        }
        if (joined) objects.push(setDeltaObject(name, joined));
      }
    }
    return objects;
  }

  #isSelf(peer: PeerRuntime, store: CrdtStore, ack: SyncAck): boolean {
    if (!ack.self && ack.replica !== store.replica) return false;
    peer.self = true;
    this.#o.log.warn("sync peer is this node itself; not syncing with it", { peer: peer.url });
    return true;
  }

  /** Every peer's progress and health. */
  async status(): Promise<PeerStatus[]> {
    const store = await this.#o.store();
    return await Promise.all(this.#peers.map(async (p) => ({
      url: p.url,
      ...(await loadPeer(this.#o.kv, store.replica, p.url)),
      failures: p.failures,
      lastError: p.lastError,
      nextAttemptAt: p.nextAttemptAt || null,
      self: p.self,
    })));
  }
}

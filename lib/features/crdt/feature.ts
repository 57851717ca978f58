/**
 * The edge data layer of one node, built from config: the items (memory cache, central copy,
 * change feed) and the CRDT replicas with anti-entropy, plus their background
 * jobs. Nothing touches KV until the first request or job run (the replica id is read lazily).
 */

import type { z } from "zod";
import type { Clock } from "../../core/clock.ts";
import type { EdgeConfig } from "../../core/config.ts";
import { resolveReplica } from "./replica.ts";
import { CrdtStore } from "./store.ts";
import type { Jobs } from "../../core/jobs.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import { AntiEntropy } from "./sync/anti_entropy.ts";
import { ITEM_SCHEMAS } from "../items/item_schema.ts";
import { Items } from "../items/items.ts";

/** What the data layer is built from. */
export interface EdgeDataOptions {
  config: EdgeConfig;
  kv: Deno.Kv;
  clock: Clock;
  fetch: typeof fetch;
  log: Logger;
  metrics: MetricsRegistry;
  jobs: Jobs;
  /** Overrides `data.itemSchema` with any zod schema (programmatic use). */
  itemSchema?: z.ZodType;
}

/** A node's data layer. */
export interface EdgeData {
  items: Items;
  /** The schema item bodies must match. */
  itemSchema: z.ZodType;
  /** This node's CRDT replicas (resolving the replica id on first use). */
  crdt(): Promise<CrdtStore>;
  /** Anti-entropy with the configured peers (null without peers). */
  sync: AntiEntropy | null;
  /** Starts the item watch (jobs start with the other jobs). */
  start(): void;
  stop(): void;
}

/** Builds the data layer and registers its jobs. */
export function createEdgeData(options: EdgeDataOptions): EdgeData {
  const { config, kv, clock, jobs, metrics } = options;
  const log = options.log.child({ area: "data" });
  const items = new Items({
    kv,
    clock,
    log,
    metrics,
    maxStalenessMs: config.data.maxStalenessMs,
    changeRetentionMs: config.data.changeRetentionMs,
    cacheMaxEntries: config.data.cacheMaxEntries,
    cacheMaxBytes: config.data.cacheMaxBytes,
  });

  let store: Promise<CrdtStore> | null = null;
  function crdt(): Promise<CrdtStore> {
    store ??= resolveReplica(kv, config.region, config.crdt.replicaId).then((identity) => {
      log.info("crdt replica ready", { replica: identity.replica });
      return new CrdtStore({
        kv,
        clock,
        identity,
        limits: config.crdt,
        logRetentionMs: config.sync.logRetentionMs,
        maxClockDriftMs: config.crdt.maxClockDriftMs,
        metrics,
        log,
      });
    });
    // A failed resolution (KV down) is retried on the next use.
    store.catch(() => (store = null));
    return store;
  }

  const sync = config.sync.peers.length > 0 && config.sync.token
    ? new AntiEntropy({
      store: crdt,
      kv,
      clock,
      fetch: options.fetch,
      log,
      metrics,
      peers: config.sync.peers,
      token: config.sync.token,
      intervalMs: config.sync.intervalMs,
      timeoutMs: config.sync.timeoutMs,
      maxBackoffMs: config.sync.maxBackoffMs,
      fullEveryMs: config.sync.fullEveryMs,
      logRetentionMs: config.sync.logRetentionMs,
      maxBodyBytes: config.sync.maxBodyBytes,
    })
    : null;

  // Ticks at the fallback interval; polls only while the watch is down or the safety net is due.
  jobs.add({
    name: "items-changes",
    intervalMs: config.data.pollIntervalMs,
    maxBackoffMs: config.data.maxStalenessMs,
    run: () => items.feed.poll(config.data.watchedPollIntervalMs),
  });
  jobs.add({
    name: "items-trim",
    intervalMs: 60_000,
    run: () => items.store.trimChanges().then(() => {}),
  });
  jobs.add({
    name: "crdt-log-trim",
    intervalMs: 60_000,
    run: async () => void await (await crdt()).trimLog(),
  });
  if (sync) {
    jobs.add({
      name: "crdt-sync",
      intervalMs: config.sync.intervalMs,
      run: (signal) => sync.run(signal),
    });
  }

  return {
    items,
    itemSchema: options.itemSchema ?? ITEM_SCHEMAS[config.data.itemSchema],
    crdt,
    sync,
    start: () => items.feed.start(),
    stop: () => items.feed.stop(),
  };
}

/**
 * The crdt feature: CRDT counters, sets and registers kept per replica in KV
 * (`/crdt/*`), and anti-entropy with the configured peers (`/_edge/sync`). Nothing touches KV
 * until the first request or job run (the replica id is read lazily).
 */

import { Hono } from "hono";
import type { Feature } from "../../core/feature.ts";
import type { AppEnv } from "../../core/request.ts";
import { CRDT_CONFIG, type CRDT_FIELDS } from "./config.ts";
import { resolveReplica } from "./replica.ts";
import { crdtRoutes } from "./routes.ts";
import { CrdtStore } from "./store.ts";
import { AntiEntropy } from "./sync/anti_entropy.ts";
import { syncRoutes } from "./sync/routes.ts";

/** What the crdt feature offers later features. */
export interface Crdt {
  /** This node's CRDT replicas (resolving the replica id on first use). */
  crdt(): Promise<CrdtStore>;
  /** Anti-entropy with the configured peers (null without peers or without `SYNC_TOKEN`). */
  sync: AntiEntropy | null;
}

declare module "../../core/feature.ts" {
  interface FeatureApis {
    crdt: Crdt;
  }
}

/** The feature's registration. */
export const crdtFeature: Feature<"crdt", typeof CRDT_FIELDS> = {
  name: "crdt",
  config: CRDT_CONFIG,
  create(svc, cfg) {
    const { kv, clock, metrics, config } = svc;
    const log = svc.log.child({ area: "data" });

    let store: Promise<CrdtStore> | null = null;
    function crdt(): Promise<CrdtStore> {
      store ??= resolveReplica(kv, config.region, cfg.crdt.replicaId).then((identity) => {
        log.info("crdt replica ready", { replica: identity.replica });
        return new CrdtStore({
          kv,
          clock,
          identity,
          limits: cfg.crdt,
          logRetentionMs: cfg.sync.logRetentionMs,
          maxClockDriftMs: cfg.crdt.maxClockDriftMs,
          metrics,
          log,
        });
      });
      // A failed resolution (KV down) is retried on the next use.
      store.catch(() => (store = null));
      return store;
    }

    const sync = cfg.sync.peers.length > 0 && cfg.sync.token
      ? new AntiEntropy({
        store: crdt,
        kv,
        clock,
        fetch: svc.fetch,
        log,
        metrics,
        peers: cfg.sync.peers,
        token: cfg.sync.token,
        intervalMs: cfg.sync.intervalMs,
        timeoutMs: cfg.sync.timeoutMs,
        maxBackoffMs: cfg.sync.maxBackoffMs,
        fullEveryMs: cfg.sync.fullEveryMs,
        logRetentionMs: cfg.sync.logRetentionMs,
        maxBodyBytes: cfg.sync.maxBodyBytes,
      })
      : null;

    const routes = new Hono<AppEnv>();
    routes.route(
      "/crdt",
      crdtRoutes({
        store: crdt,
        maxStep: cfg.crdt.maxStep,
        maxRegisterBytes: cfg.crdt.maxRegisterBytes,
      }),
    );
    const edgeRoutes = new Hono<AppEnv>().basePath("/_edge");
    edgeRoutes.route(
      "/sync",
      syncRoutes({
        store: crdt,
        engine: sync,
        token: cfg.sync.token,
        maxBodyBytes: cfg.sync.maxBodyBytes,
        maxRegisterBytes: cfg.crdt.maxRegisterBytes,
        log: svc.log,
        metrics,
      }),
    );

    return {
      api: { crdt, sync },
      routes,
      edgeRoutes,
      jobs: [
        {
          name: "crdt-log-trim",
          intervalMs: 60_000,
          run: async () => void await (await crdt()).trimLog(),
        },
        ...(sync
          ? [{
            name: "crdt-sync",
            intervalMs: cfg.sync.intervalMs,
            run: (signal: AbortSignal) => sync.run(signal),
          }]
          : []),
      ],
      missingSecrets: cfg.sync.peers.length > 0 && cfg.sync.token === undefined
        ? [{ name: "SYNC_TOKEN", disables: "sync with peers" }]
        : [],
    };
  },
};

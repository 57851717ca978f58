/** The `crdt` and `sync` sections: CRDT replicas in KV, and anti-entropy between nodes. */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";
import { baseUrlSchema } from "../../platform/config/schemas.ts";
import { ReplicaIdSchema } from "./names.ts";

/** A sync peer's base URL: `http(s)://host[:port][/prefix]`, no credentials, query or fragment. */
export const PeerUrlSchema = baseUrlSchema("Peer", ["http:", "https:"], 512);

/** CRDTs kept per replica in KV, merged by anti-entropy with the peers. */
export const CrdtConfigSchema = z.object({
  /** This node's replica id; default `<region>-<random id of this KV database>`. */
  replicaId: ReplicaIdSchema.optional(),
  /** Largest `by` of one increment or decrement. */
  maxStep: z.number().int().min(1).max(1e12).default(1_000_000),
  /** Most elements a set takes from local adds. */
  maxSetElements: z.number().int().min(1).max(1_000_000).default(100_000),
  /** Largest register value (JSON bytes). */
  maxRegisterBytes: z.number().int().min(16).max(60_000).default(16 * 1024),
  /** Remote register timestamps further ahead of our clock than this are refused. */
  maxClockDriftMs: z.number().int().min(1000).max(86_400_000).default(60_000),
}).prefault({});

/** Anti-entropy between nodes: who the peers are and how often state is pushed to them. */
export const SyncConfigSchema = z.object({
  peers: z.array(PeerUrlSchema).max(64).default([]),
  /** Shared secret for `POST /_edge/sync` (only from `SYNC_TOKEN`). */
  token: z.string().min(16, "Must be at least 16 characters").max(512).optional(),
  intervalMs: z.number().int().min(50).max(3_600_000).default(1000),
  timeoutMs: z.number().int().min(100).max(120_000).default(5000),
  maxBackoffMs: z.number().int().min(100).max(86_400_000).default(60_000),
  /** A full-state exchange with each peer at least this often (deltas in between). */
  fullEveryMs: z.number().int().min(1000).max(7 * 86_400_000).default(300_000),
  /** Local operations are kept this long for deltas; a peer further behind gets full state. */
  logRetentionMs: z.number().int().min(60_000).max(30 * 86_400_000).default(3_600_000),
  maxBodyBytes: z.number().int().min(4096).max(32 * 1024 ** 2).default(4 * 1024 ** 2),
}).prefault({});

/** The validated `crdt` section. */
export type CrdtConfig = z.infer<typeof CrdtConfigSchema>;
/** The validated `sync` section. */
export type SyncConfig = z.infer<typeof SyncConfigSchema>;

/** The fields this feature owns. */
export const CRDT_FIELDS = { crdt: CrdtConfigSchema, sync: SyncConfigSchema };

/** Environment variables of this feature, and the config field each sets. */
export const CRDT_ENV: EnvTable = {
  REPLICA_ID: { path: "crdt.replicaId", kind: "string" },
  SYNC_PEERS: { path: "sync.peers", kind: "list" },
  SYNC_TOKEN: { path: "sync.token", kind: "secret" },
  SYNC_INTERVAL_MS: { path: "sync.intervalMs", kind: "int" },
};

/** How the loader reads them. */
export const CRDT_CONFIG: FeatureConfig<typeof CRDT_FIELDS> = {
  fields: CRDT_FIELDS,
  env: CRDT_ENV,
};

/**
 * A node's replica identity. It must be stable across restarts (a new id would orphan the
 * node's counter slots and mint dots that collide with nothing) and unique per node: it is
 * `crdt.replicaId` / `REPLICA_ID` when set, else `<region>-<id of this KV database>`, where the
 * database id is random, created once and kept in KV.
 */

import { casRetry, CONFLICT } from "../../platform/kv/cas_retry.ts";
import { kvIdKey } from "./keys.ts";

const KV_ID = /^[0-9a-f]{12}$/;

/** Who this node is in the CRDT layer. */
export interface ReplicaIdentity {
  /** The replica id that names this node's counter slots and dots. */
  replica: string;
  /** The random id of this node's KV database (changes if the database is wiped). */
  kvId: string;
}

/** Reads (or creates once, atomically) the KV database's random id. */
function kvDatabaseId(kv: Deno.Kv): Promise<string> {
  return casRetry("the KV database id", async () => {
    const entry = await kv.get<unknown>(kvIdKey());
    if (entry.value !== null) {
      if (typeof entry.value === "string" && KV_ID.test(entry.value)) return entry.value;
      throw new Error(`Invalid KV database id at ${JSON.stringify(kvIdKey())}`);
    }
    const id = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
    const res = await kv.atomic().check(entry).set(kvIdKey(), id).commit();
    return res.ok ? id : CONFLICT;
  }, { lane: kv });
}

/** Resolves this node's replica id (configured, or derived from the region and database). */
export async function resolveReplica(
  kv: Deno.Kv,
  region: string,
  configured?: string,
): Promise<ReplicaIdentity> {
  const kvId = await kvDatabaseId(kv);
  return { replica: configured ?? `${region}-${kvId}`, kvId };
}

/** Merging a validated sync payload into this node's replicas. */

import type { CrdtStore } from "../store.ts";
import type { SyncPayload } from "./protocol.ts";

/**
 * Merges every object of `payload`; returns how many changed something here. Changes learned
 * from a delta are relayed to this node's peers (so a partial mesh converges at delta speed);
 * full-state exchanges reach everyone on their own schedule and are not relayed.
 */
export async function applyPayload(store: CrdtStore, payload: SyncPayload): Promise<number> {
  const relay = payload.kind === "delta";
  let changed = 0;
  for (const o of payload.objects) {
    let did: boolean;
    if (o.type === "counter") did = await store.mergeCounter(o.name, o.state, relay);
    else if (o.type === "register") did = await store.mergeRegister(o.name, o.state, relay);
    else if (o.range) did = await store.mergeSetChunk(o.name, { ...o.range, state: o.state });
    else did = await store.mergeSetDelta(o.name, o.state, relay);
    if (did) changed++;
  }
  return changed;
}

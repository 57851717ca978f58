/**
 * What a replica remembers about each sync peer (in KV, so every isolate of the node shares
 * it): how far the operation log has been delivered, when the last full exchange was, and who
 * the peer is (a new database id means the peer lost its state and needs everything again).
 */

import { z } from "zod";
import { casRetry, CONFLICT } from "../../../platform/kv/cas_retry.ts";
import { peerStateKey } from "../../items/keys.ts";

/** The stored record of one peer. */
export interface PeerRecord {
  /** Every logged op before this time (ms) has been delivered; null before the first sync. */
  cursor: number | null;
  lastFullAt: number | null;
  lastOkAt: number | null;
  peerReplica: string | null;
  peerKvId: string | null;
}

const NullableTime = z.number().finite().nullable();
const PeerRecordSchema = z.object({
  v: z.literal(1),
  cursor: NullableTime,
  lastFullAt: NullableTime,
  lastOkAt: NullableTime,
  peerReplica: z.string().max(64).nullable(),
  peerKvId: z.string().max(64).nullable(),
});

/** A peer never synced with. */
const NEW_PEER: PeerRecord = {
  cursor: null,
  lastFullAt: null,
  lastOkAt: null,
  peerReplica: null,
  peerKvId: null,
};

function parse(value: unknown): PeerRecord {
  const parsed = PeerRecordSchema.safeParse(value);
  // An unreadable record only costs a full exchange.
  return parsed.success ? parsed.data : NEW_PEER;
}

/** Reads a peer's record (a new peer when absent or unreadable). */
export async function loadPeer(kv: Deno.Kv, replica: string, peer: string): Promise<PeerRecord> {
  return parse((await kv.get(peerStateKey(replica, peer))).value);
}

function later(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/**
 * Saves progress. Times only move forward (another isolate may have gone further), except
 * that `reset` forgets the full-exchange time so the next round sends everything.
 */
export function savePeer(
  kv: Deno.Kv,
  replica: string,
  peer: string,
  update: PeerRecord & { reset?: boolean },
): Promise<PeerRecord> {
  const key = peerStateKey(replica, peer);
  return casRetry(`sync peer ${peer}`, async () => {
    const entry = await kv.get(key);
    const current = parse(entry.value);
    const next: PeerRecord = {
      cursor: update.reset ? update.cursor : later(current.cursor, update.cursor),
      lastFullAt: update.reset ? null : later(current.lastFullAt, update.lastFullAt),
      lastOkAt: later(current.lastOkAt, update.lastOkAt),
      peerReplica: update.peerReplica ?? current.peerReplica,
      peerKvId: update.peerKvId ?? current.peerKvId,
    };
    const res = await kv.atomic().check(entry).set(key, { v: 1, ...next }).commit();
    return res.ok ? next : CONFLICT;
  }, { lane: kv });
}

/** Deno KV keys of the sync area: items and peer state (listed in docs/kv.md). */

/** What this replica knows about syncing with one peer. */
export function peerStateKey(replica: string, peer: string): [string, string, string, string] {
  return ["sync", "peer", replica, peer];
}

/** The central copy of an item: version, time, and the body inline or its chunk count. */
export function itemKey(id: string): [string, string, string] {
  return ["items", "item", id];
}

/** One chunk of an item body over 60 KB, under the version that wrote it. */
export function itemChunkKey(
  id: string,
  etag: string,
  index: number,
): [string, string, string, string, number] {
  return ["items", "chunk", id, etag, index];
}

/** A change record: item `id` was written or deleted at about `at` (ms). */
export function itemChangeKey(at: number, nonce: string): [string, string, number, string] {
  return ["items", "change", at, nonce];
}

/** Every change record, time-ordered. */
export function itemChangesPrefix(): [string, string] {
  return ["items", "change"];
}

/** Rewritten by every write; nodes `kv.watch` it to learn that change records arrived. */
export function itemsHeadKey(): [string, string] {
  return ["items", "head"];
}

/** Deno KV keys of the central collector: totals (KvU64 sums) and applied idempotency keys. */

/** `["central", "applied", key]`: a summary applied in full (written with the totals). */
export function appliedKey(idempotencyKey: string): Deno.KvKey {
  return ["central", "applied", idempotencyKey];
}

/** `["central", "part", key, n]`: part `n` of a large summary's counts has been applied. */
export function partKey(idempotencyKey: string, part: number): Deno.KvKey {
  return ["central", "part", idempotencyKey, part];
}

/** `["central", "total"]`: every event counted. */
export function totalKey(): Deno.KvKey {
  return ["central", "total"];
}

/** `["central", "summaries"]`: summaries applied. */
export function summariesKey(): Deno.KvKey {
  return ["central", "summaries"];
}

/** `["central", "type", type]`: events per type. */
export function typeTotalKey(type: string): Deno.KvKey {
  return ["central", "type", type];
}

/** `["central", "edge", edgeId]`: events per edge. */
export function edgeTotalKey(edgeId: string): Deno.KvKey {
  return ["central", "edge", edgeId];
}

/** `["central", "user", user, type]`: events per user and type. */
export function userTotalKey(userId: string, type: string): Deno.KvKey {
  return ["central", "user", userId, type];
}

/** `["central", "interval", start, "total" | "type" | "edge", …]`: the same, per interval. */
export function intervalKey(start: number, ...rest: string[]): Deno.KvKey {
  return ["central", "interval", start, ...rest];
}

/** A prefix under `["central", …]`. */
export function centralPrefix(...parts: Array<string | number>): Deno.KvKey {
  return ["central", ...parts];
}

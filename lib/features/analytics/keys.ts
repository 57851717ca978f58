/**
 * Deno KV keys of the analytics edge. Every key starts with `["analytics", edgeId]`: Deno
 * Deploy shares one database between regions, so each edge keeps its own events, aggregates and
 * outbox, while the isolates of one edge share them.
 */

/** A key part type for the helpers below. */
type Part = string | number;

/** `["analytics", edge, "ev", user, ulid]`: one stored event; range-scans by user, then time. */
export function eventKey(edge: string, userId: string, id: string): Deno.KvKey {
  return ["analytics", edge, "ev", userId, id];
}

/** The prefix of one user's events. */
export function userEventsPrefix(edge: string, userId: string): Deno.KvKey {
  return ["analytics", edge, "ev", userId];
}

/** `["analytics", edge, "minute", minuteStart, type]`: KvU64 local count per minute and type. */
export function minuteCountKey(edge: string, minuteStart: number, type: string): Deno.KvKey {
  return ["analytics", edge, "minute", minuteStart, type];
}

/** The prefix of every per-minute count. */
export function minuteCountsPrefix(edge: string): [string, string, string] {
  return ["analytics", edge, "minute"];
}

/** `["analytics", edge, "open", interval]`: KvU64 events in an open interval (its write stamp). */
export function openIntervalKey(edge: string, interval: number): Deno.KvKey {
  return ["analytics", edge, "open", interval];
}

/** The prefix of the open-interval counters. */
export function openIntervalsPrefix(edge: string): Deno.KvKey {
  return ["analytics", edge, "open"];
}

/** `["analytics", edge, "closed", interval]`: set once an interval is closed; writes check it. */
export function closedIntervalKey(edge: string, interval: number): Deno.KvKey {
  return ["analytics", edge, "closed", interval];
}

/** `["analytics", edge, "agg", interval, "type", type]`: KvU64 count per event type. */
export function typeCountKey(edge: string, interval: number, type: string): Deno.KvKey {
  return ["analytics", edge, "agg", interval, "type", type];
}

/** `["analytics", edge, "agg", interval, "user", type, user]`: KvU64 per (event type, user). */
export function userCountKey(
  edge: string,
  interval: number,
  type: string,
  userId: string,
): Deno.KvKey {
  return ["analytics", edge, "agg", interval, "user", type, userId];
}

/** The prefix of one interval's aggregate (or one part of it). */
export function aggregatePrefix(edge: string, interval: number, ...part: Part[]): Deno.KvKey {
  return ["analytics", edge, "agg", interval, ...part];
}

/**
 * `["analytics", edge, "idem", key]`: a batch accepted under an `Idempotency-Key`, written in the
 * batch's own commit, so a retried batch is stored once.
 */
export function ingestKey(edge: string, key: string): Deno.KvKey {
  return ["analytics", edge, "idem", key];
}

/** `["analytics", edge, "outbox", interval]`: a closed interval waiting to be sent. */
export function outboxKey(edge: string, interval: number): Deno.KvKey {
  return ["analytics", edge, "outbox", interval];
}

/** The prefix of the outbox (oldest interval first when listed). */
export function outboxPrefix(edge: string): Deno.KvKey {
  return ["analytics", edge, "outbox"];
}

/** `["analytics", edge, "gc", interval]`: a delivered interval whose aggregate is being deleted. */
export function garbageKey(edge: string, interval: number): Deno.KvKey {
  return ["analytics", edge, "gc", interval];
}

/** The prefix of the pending deletions. */
export function garbagePrefix(edge: string): Deno.KvKey {
  return ["analytics", edge, "gc"];
}

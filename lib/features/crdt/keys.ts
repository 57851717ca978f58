/** Deno KV keys of the CRDT area (listed in docs/kv.md). Nothing builds these inline. */

/** The kinds of replicated object. */
export type CrdtType = "counter" | "set" | "register";

/** Which half of a PN-Counter a slot belongs to. */
export type CounterHalf = "p" | "n";

/** One replica's slot of a counter half (a `Deno.KvU64`). */
export function counterSlotKey(
  name: string,
  half: CounterHalf,
  replica: string,
): [string, string, string, CounterHalf, string] {
  return ["crdt", "counter", name, half, replica];
}

/** Every slot of one counter. */
export function counterPrefix(name: string): [string, string, string] {
  return ["crdt", "counter", name];
}

/** A set's causal context and size; every write to the set rewrites it (its version). */
export function setContextKey(name: string): [string, string, string, string] {
  return ["crdt", "set", name, "ctx"];
}

/** One element of a set and its live dots. */
export function setElementKey(
  name: string,
  element: string,
): [string, string, string, string, string] {
  return ["crdt", "set", name, "e", element];
}

/** Every element of a set. */
export function setElementsPrefix(name: string): [string, string, string, string] {
  return ["crdt", "set", name, "e"];
}

/** An LWW-Register's value and timestamp. */
export function registerKey(name: string): [string, string, string] {
  return ["crdt", "register", name];
}

/** The index of objects, so a full sync can list them without scanning set elements. */
export function indexKey(type: CrdtType, name: string): [string, string, CrdtType, string] {
  return ["crdt", "index", type, name];
}

/** Every indexed object. */
export function indexPrefix(): [string, string] {
  return ["crdt", "index"];
}

/** One local operation in the log that deltas are built from (time-ordered). */
export function opLogKey(at: number, id: string): [string, string, number, string] {
  return ["crdt", "log", at, id];
}

/** The whole operation log. */
export function opLogPrefix(): [string, string] {
  return ["crdt", "log"];
}

/** The random id of this KV database (part of the default replica id). */
export function kvIdKey(): [string, string, string] {
  return ["crdt", "meta", "kv-id"];
}

/**
 * Every Deno KV key of users' functions (listed in docs/kv.md). A function's namespace is bound
 * by the edge, never chosen per call, so no function can address another's keys or Outpost's.
 */

/** `["functions", "kv", namespace, key]`: one value a function stored. */
export function functionKvKey(namespace: string, key: string): [string, string, string, string] {
  return ["functions", "kv", namespace, key];
}

/** `["functions", "kv", namespace]`: everything one namespace stored. */
export function functionKvPrefix(namespace: string): [string, string, string] {
  return ["functions", "kv", namespace];
}

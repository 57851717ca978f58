/** Deno KV keys of the platform feature. */

/**
 * Written once by the first node that finds a database without it: a node that finds it knows
 * the store outlived (or is shared with) another node. `["platform", "kv-marker"]`.
 */
export function kvMarkerKey(): [string, string] {
  return ["platform", "kv-marker"];
}

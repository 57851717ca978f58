/** Deno KV keys of the metrics area. */

/** One node's latest snapshot: `["metrics", region, nodeId]`. */
export function snapshotKey(region: string, nodeId: string): [string, string, string] {
  return ["metrics", region, nodeId];
}

/** The prefix under which every node's snapshot lives. */
export function snapshotPrefix(): [string] {
  return ["metrics"];
}

/** A node's KV write probe (health): `["health", "kv-probe", region, nodeId]`. */
export function kvProbeKey(region: string, nodeId: string): [string, string, string, string] {
  return ["health", "kv-probe", region, nodeId];
}

/** The prefix of every node's KV write probe. */
export function kvProbePrefix(): [string, string] {
  return ["health", "kv-probe"];
}

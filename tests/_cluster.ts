/**
 * Several edge nodes in one process, each with its own `:memory:` KV and peers named
 * `http://<name>.test`, connected by an in-process network that can take a node down or make
 * it hang. Requests between nodes go through each node's real `fetch` handler.
 */

import { createApp, type Edge } from "../lib/core/app.ts";
import { ManualClock } from "../lib/core/clock.ts";
import type { EdgeConfigInput } from "../lib/core/config.ts";
import { deadOrigin, makeConfig } from "./helpers.ts";

export const TOKEN = "test-sync-token-0123456789";

/** One node of the cluster. */
export interface ClusterNode {
  name: string;
  url: string;
  edge: Edge;
  kv: Deno.Kv;
}

/** What the network does to requests to a node. */
export type Fault = "down" | "hang";

/** Intercepts one request between nodes. */
export type NetworkHook = (
  message: { from: string; to: string; body: string },
  deliver: (body: string) => Promise<Response>,
) => Promise<Response>;

/** A cluster and its network. */
export interface Cluster extends AsyncDisposable {
  nodes: ClusterNode[];
  clock: ManualClock;
  faults: Map<string, Fault>;
  /** Bodies of sync requests sent, in order. */
  sent: { from: string; to: string; body: string }[];
  /** When set, decides the fate of every request between nodes (`deliver` sends a body). */
  hook: NetworkHook | null;
  /** Ends each request held by a "hang" fault (as a reset connection). */
  hanging: (() => void)[];
  node(name: string): ClusterNode;
  /** Calls a node as a client would. */
  call(name: string, path: string, init?: RequestInit): Promise<Response>;
  /** Replaces a node with a fresh one (a new, empty database). */
  reset(name: string): Promise<void>;
}

/** Builds `names.length` nodes, each peered with all the others. */
export async function makeCluster(
  names: string[],
  overrides: Partial<EdgeConfigInput> = {},
  peersOf: (name: string) => string[] = (n) => names.filter((m) => m !== n),
): Promise<Cluster> {
  const clock = new ManualClock(Date.now());
  const faults = new Map<string, Fault>();
  const sent: Cluster["sent"] = [];
  const nodes = new Map<string, ClusterNode>();
  const origin = deadOrigin();

  function network(from: string): typeof fetch {
    return async (input, init) => {
      const req = new Request(input, init);
      const to = new URL(req.url).hostname.replace(/\.test$/, "");
      const target = nodes.get(to);
      const fault = faults.get(to);
      if (!target || fault === "down") throw new TypeError(`Connection refused: ${req.url}`);
      if (fault === "hang") {
        // Never answers; the request ends on its own timeout, or when the test releases it.
        return await new Promise<Response>((_, reject) => {
          req.signal.addEventListener("abort", () => reject(req.signal.reason));
          cluster.hanging.push(() => reject(new TypeError("Connection reset")));
        });
      }
      const body = await req.text();
      sent.push({ from, to, body });
      const deliver = (b: string) =>
        Promise.resolve(
          target.edge.fetch(
            new Request(req.url, { method: req.method, headers: req.headers, body: b }),
          ),
        );
      return cluster.hook ? await cluster.hook({ from, to, body }, deliver) : await deliver(body);
    };
  }

  async function build(name: string): Promise<ClusterNode> {
    const kv = await Deno.openKv(":memory:");
    const config = makeConfig(origin, {
      ...overrides,
      sync: {
        timeoutMs: 500,
        ...overrides.sync,
        peers: peersOf(name).map((p) => `http://${p}.test`),
      },
    }, { SYNC_TOKEN: TOKEN, REPLICA_ID: name });
    const edge = createApp({ config, kv, clock, fetch: network(name) });
    return { name, url: `http://${name}.test`, edge, kv };
  }

  for (const name of names) nodes.set(name, await build(name));

  const cluster: Cluster = {
    hook: null,
    hanging: [],
    get nodes() {
      return [...nodes.values()];
    },
    clock,
    faults,
    sent,
    node: (name) => nodes.get(name)!,
    async call(name, path, init) {
      return await nodes.get(name)!.edge.fetch(new Request(`http://${name}.test${path}`, init));
    },
    async reset(name) {
      const old = nodes.get(name)!;
      await old.edge.close();
      old.kv.close();
      nodes.set(name, await build(name));
    },
    async [Symbol.asyncDispose]() {
      for (const n of nodes.values()) {
        await n.edge.close();
        n.kv.close();
      }
    },
  };
  return cluster;
}

/** POSTs JSON to a node and returns the parsed body. */
export async function postJson(
  cluster: Cluster,
  name: string,
  path: string,
  body: unknown,
): Promise<unknown> {
  const res = await cluster.call(name, path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return await res.json();
}

/** GETs JSON from a node. */
export async function getJson(cluster: Cluster, name: string, path: string): Promise<unknown> {
  const res = await cluster.call(name, path);
  return await res.json();
}

/** Runs every node's sync job once. */
export async function syncAll(cluster: Cluster): Promise<void> {
  for (const n of cluster.nodes) await n.edge.jobs.runNow("crdt-sync");
}

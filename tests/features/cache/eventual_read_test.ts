import assert from "node:assert/strict";
import { cacheBodyPrefix } from "../../../lib/features/cache/keys.ts";
import { makeConfig, startEdge, startOrigin } from "../../helpers.ts";

/**
 * A KV as a far region sees it through Deno Deploy's read replicas: eventually consistent reads
 * lag, here to the point of not having an entry's body chunks yet. Records each read's consistency.
 */
async function laggingReplica() {
  const real = await Deno.openKv(":memory:");
  const reads: Array<{ op: string; consistency: string }> = [];
  let lagging = false;
  const bodies = JSON.stringify(cacheBodyPrefix("")).slice(0, -4); // `["cache","body"`
  const kv = new Proxy(real, {
    get(target, prop) {
      if (prop === "get") {
        return (key: Deno.KvKey, o?: { consistency?: Deno.KvConsistencyLevel }) => {
          reads.push({ op: `get ${String(key[1])}`, consistency: o?.consistency ?? "strong" });
          return target.get(key, o);
        };
      }
      if (prop === "list") {
        return (sel: { prefix: Deno.KvKey }, o?: Deno.KvListOptions) => {
          const consistency = o?.consistency ?? "strong";
          const body = JSON.stringify(sel.prefix).startsWith(bodies);
          if (body) reads.push({ op: "list body", consistency });
          if (body && lagging && consistency === "eventual") {
            return target.list({ prefix: ["nothing-here-yet"] }, o);
          }
          return target.list(sel, o);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv, reads, lag: (on: boolean) => (lagging = on), close: () => real.close() };
}

Deno.test("cache lookups read KV's nearest replica, and the primary when it lags", async () => {
  await using origin = startOrigin();
  const replica = await laggingReplica();
  try {
    // Each node listens on its own port: keys leave the host out so they share entries.
    const config = makeConfig(origin.url, { experiments: [], cache: { ignoreHost: true } });
    // Node A fills KV with a chunked body (over 60 KiB); node B starts with an empty memory.
    await using a = await startEdge(config, { kv: replica.kv });
    const path = "/cacheable/big?max_age=600&size=200000";
    const fill = await fetch(`${a.url}${path}`);
    assert.equal(fill.headers.get("x-cache"), "MISS");
    await fill.body?.cancel();
    await a.edge.cache!.settled();

    await using b = await startEdge(config, { kv: replica.kv });
    replica.reads.length = 0;
    const near = await fetch(`${b.url}${path}`);
    assert.equal(near.headers.get("x-cache"), "HIT");
    assert.equal((await near.arrayBuffer()).byteLength, 200_000);
    const lookup = replica.reads.filter((r) => r.op === "get meta" || r.op === "list body");
    assert.ok(lookup.length >= 2, JSON.stringify(replica.reads));
    assert.ok(lookup.every((r) => r.consistency === "eventual"), JSON.stringify(lookup));

    // A third node whose replica has the metadata but not every chunk yet: the primary decides.
    replica.lag(true);
    await using c = await startEdge(config, { kv: replica.kv });
    replica.reads.length = 0;
    const lagged = await fetch(`${c.url}${path}`);
    assert.equal(lagged.headers.get("x-cache"), "HIT");
    assert.equal((await lagged.arrayBuffer()).byteLength, 200_000);
    assert.ok(
      replica.reads.some((r) => r.op === "list body" && r.consistency === "strong"),
      JSON.stringify(replica.reads),
    );
  } finally {
    replica.close();
  }
});

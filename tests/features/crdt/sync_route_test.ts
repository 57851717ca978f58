import assert from "node:assert/strict";
import { type Cluster, makeCluster, postJson, TOKEN } from "../../_cluster.ts";
import { deadOrigin, get, makeConfig, startEdge } from "../../helpers.ts";

/** Every KV entry, as comparable JSON. */
async function snapshot(kv: Deno.Kv): Promise<string> {
  const out: unknown[] = [];
  for await (const e of kv.list({ prefix: [] })) {
    const v = e.value instanceof Deno.KvU64 ? `u64:${e.value.value}` : e.value;
    out.push([e.key, v instanceof Uint8Array ? [...v] : v, e.versionstamp]);
  }
  return JSON.stringify(out);
}

function sync(c: Cluster, body: unknown, token = TOKEN, raw = false) {
  return c.call("b", "/_edge/sync", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: raw ? (body as string) : JSON.stringify(body),
  });
}

const FROM = { replica: "a", kvId: "0123456789ab" };
const COUNTER = {
  type: "counter",
  name: "hits",
  state: { type: "pn-counter", v: 1, p: { a: 5 }, n: {} },
};
const SET_DELTA = {
  type: "set",
  name: "tags",
  state: {
    type: "or-set",
    v: 1,
    entries: [["x", [["a", 1]]]],
    context: { vv: { a: 1 }, cloud: [] },
  },
};

Deno.test("POST /_edge/sync rejects forged and malformed payloads with 400 and changes nothing", async (t) => {
  await using c = await makeCluster(["a", "b"], { sync: { maxBodyBytes: 64 * 1024 } });
  await postJson(c, "b", "/crdt/counters/hits/increment", { by: 1 });
  await postJson(c, "b", "/crdt/sets/tags/add", { element: "y" });
  const before = await snapshot(c.node("b").kv);
  const valid = { v: 1, kind: "delta", from: FROM, objects: [COUNTER, SET_DELTA] };
  const cases: [string, unknown, number][] = [
    ["wrong protocol version", { ...valid, v: 2 }, 400],
    ["unknown kind", { ...valid, kind: "everything" }, 400],
    ["negative count", {
      ...valid,
      objects: [{ ...COUNTER, state: { ...COUNTER.state, p: { a: -5 } } }],
    }, 400],
    ["count beyond 2^53", {
      ...valid,
      objects: [{ ...COUNTER, state: { ...COUNTER.state, p: { a: 2 ** 60 } } }],
    }, 400],
    ["unknown replica format", {
      ...valid,
      objects: [{ ...COUNTER, state: { ...COUNTER.state, p: { "a/../b": 1 } } }],
    }, 400],
    ["bad sender replica", { ...valid, from: { replica: "", kvId: "0123456789ab" } }, 400],
    ["wrong CRDT wire version", {
      ...valid,
      objects: [{ ...COUNTER, state: { ...COUNTER.state, v: 9 } }],
    }, 400],
    ["unknown object type", { ...valid, objects: [{ type: "graph", name: "g", state: {} }] }, 400],
    ["dot outside the context", {
      ...valid,
      objects: [{ ...SET_DELTA, state: { ...SET_DELTA.state, context: { vv: {}, cloud: [] } } }],
    }, 400],
    ["chunk entries outside the range", {
      ...valid,
      kind: "full",
      objects: [{ ...SET_DELTA, range: { from: "a", to: "m", final: false } }],
    }, 400],
    ["register from the far future", {
      ...valid,
      objects: [{
        type: "register",
        name: "r",
        state: {
          type: "lww-register",
          v: 1,
          value: 1,
          ts: { wall: Date.now() + 3_600_000, logical: 0, replica: "a" },
        },
      }],
    }, 400],
    ["register too large", {
      ...valid,
      objects: [{
        type: "register",
        name: "r",
        state: {
          type: "lww-register",
          v: 1,
          value: "x".repeat(20_000),
          ts: { wall: Date.now(), logical: 0, replica: "a" },
        },
      }],
    }, 400],
    ["a valid object followed by a bad one", {
      ...valid,
      objects: [COUNTER, { ...SET_DELTA, name: "bad name!" }],
    }, 400],
    ["not JSON", "{", 400],
    [
      "nested 5,000 levels deep",
      JSON.stringify({ ...valid, objects: [] }).replace(
        '"objects":[]',
        `"objects":[${"[".repeat(5000)}${"]".repeat(5000)}]`,
      ),
      400,
    ],
    ["oversized", { ...valid, pad: "x".repeat(70 * 1024) }, 413],
  ];
  for (const [name, body, status] of cases) {
    await t.step(name, async () => {
      const res = await sync(c, body, TOKEN, typeof body === "string");
      assert.equal(res.status, status);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      await res.body?.cancel();
      assert.equal(await snapshot(c.node("b").kv), before);
    });
  }
  await t.step("the valid payload is merged, and merging it again changes nothing", async () => {
    const first = await sync(c, valid);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), {
      v: 1,
      replica: "b",
      kvId: (await c.node("b").edge.data.crdt()).kvId,
      changed: 2,
    });
    const again = await sync(c, valid);
    assert.equal((await again.json()).changed, 0);
    const counter = await (await c.call("b", "/crdt/counters/hits")).json();
    assert.equal(counter.value, 6);
  });
});

Deno.test("POST /_edge/sync needs the shared token", async (t) => {
  await using c = await makeCluster(["a", "b"]);
  const body = { v: 1, kind: "delta", from: FROM, objects: [] };
  await t.step("wrong token: 401 with WWW-Authenticate", async () => {
    const res = await sync(c, body, "not-the-token-at-all");
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
    await res.body?.cancel();
  });
  await t.step("no token: 401", async () => {
    const res = await c.call("b", "/_edge/sync", { method: "POST", body: JSON.stringify(body) });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });
  await t.step("a token of a different length: 401", async () => {
    const res = await sync(c, body, TOKEN + "x");
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });
  await t.step("GET /_edge/sync shows the replica and its peers", async () => {
    const res = await c.call("b", "/_edge/sync", { headers: { authorization: `Bearer ${TOKEN}` } });
    const status = await res.json();
    assert.equal(status.replica, "b");
    assert.deepEqual(status.peers.map((p: { url: string }) => p.url), ["http://a.test"]);
  });
});

Deno.test("POST /_edge/sync answers 409 when a peer uses this node's replica id", async () => {
  await using c = await makeCluster(["a", "b"]);
  const res = await sync(c, {
    v: 1,
    kind: "delta",
    from: { replica: "b", kvId: "ffffffffffff" },
    objects: [COUNTER],
  });
  assert.equal(res.status, 409);
  assert.equal((await res.json()).code, "replica_collision");
});

Deno.test("POST /_edge/sync is refused (403) on a node without SYNC_TOKEN", async () => {
  await using e = await startEdge(makeConfig(deadOrigin()));
  const { res, body } = await get(`${e.url}/_edge/sync`, { method: "POST", body: "{}" });
  assert.equal(res.status, 403);
  assert.equal((body as { code: string }).code, "sync_disabled");
});

/**
 * A sync peer holds the shared SYNC_TOKEN, but only its own and other replicas' state is its to
 * send: it cannot write this node's replica slot, nor plant adds in this node's name.
 */

import assert from "node:assert/strict";
import { bearer, productionEdge, raw, startRecordingOrigin } from "./_edge.ts";

const SYNC = "security-sync-token-0123456789";
const SELF = "victim-1";

async function sync(url: string, objects: unknown[]): Promise<number> {
  const body = JSON.stringify({
    v: 1,
    kind: "delta",
    from: { replica: "peer-1", kvId: "0123456789ab" },
    objects,
  });
  const res = await raw(url, "POST /_edge/sync HTTP/1.1", {
    authorization: `Bearer ${SYNC}`,
    "content-type": "application/json",
  }, body);
  return res.status;
}

Deno.test("a peer cannot write this node's own counter slot", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url, {}, { SYNC_TOKEN: SYNC, REPLICA_ID: SELF });
  const status = await sync(e.url, [{
    type: "counter",
    name: "visits",
    state: { type: "pn-counter", v: 1, p: { [SELF]: 2 ** 52, "peer-1": 2 }, n: { [SELF]: 7 } },
  }]);
  assert.equal(status, 200);
  const read = JSON.parse((await raw(e.url, "GET /crdt/counters/visits HTTP/1.1")).body);
  assert.equal(read.value, 2, "only the peer's own slot was taken");
  const auth = await bearer(["editor"]);
  const inc = await raw(e.url, "POST /crdt/counters/visits/increment HTTP/1.1", {
    ...auth,
    "content-type": "application/json",
  }, '{"by":1}');
  assert.equal(inc.status, 200, inc.body);
  const after = JSON.parse((await raw(e.url, "GET /crdt/counters/visits HTTP/1.1")).body);
  assert.equal(after.value, 3, "this node's increments still count");
});

Deno.test("a peer cannot plant set adds in this node's name", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url, {}, { SYNC_TOKEN: SYNC, REPLICA_ID: SELF });
  const status = await sync(e.url, [{
    type: "set",
    name: "tags",
    state: {
      type: "or-set",
      v: 1,
      entries: [["planted", [[SELF, 1000]]], ["theirs", [["peer-1", 1]]]],
      context: { vv: { [SELF]: 5000, "peer-1": 1 }, cloud: [] },
    },
  }]);
  assert.equal(status, 200);
  const auth = { ...await bearer(["editor"]), "content-type": "application/json" };
  const add = await raw(e.url, "POST /crdt/sets/tags/add HTTP/1.1", auth, '{"element":"mine"}');
  assert.equal(add.status, 200, add.body);
  const set = JSON.parse((await raw(e.url, "GET /crdt/sets/tags HTTP/1.1")).body);
  assert.deepEqual(set.elements, ["mine", "theirs"]);
});

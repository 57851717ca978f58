/**
 * WebSocket upgrades against a production edge: authorization decides before any connection to
 * an origin is made (the origin must see nothing of a refused upgrade), a browser's token in the
 * subprotocol is authorized like one in the header and is never offered to the origin nor
 * echoed back, and an upgrade is never answered from the cache.
 */

import assert from "node:assert/strict";
import { productionEdge, token } from "./_edge.ts";
import { connect, rawUpgrade, startWsOrigin } from "../features/websocket/_fixtures.ts";

Deno.test("a protected upgrade without a valid token is refused before any origin connection", async (t) => {
  await using origin = startWsOrigin();
  await using e = await productionEdge(origin.url);
  const cases: Array<[string, Record<string, string>, number]> = [
    ["no token", {}, 401],
    ["a malformed token", { authorization: "Bearer not-a-jwt" }, 401],
    [
      "a forged subprotocol token",
      { "sec-websocket-protocol": "bearer.eyJhbGciOiJub25lIn0.e30." },
      401,
    ],
    ["a role without the action", {
      authorization: `Bearer ${await token({ sub: "eve", roles: ["auditor"] })}`,
    }, 403],
    ["two subprotocol tokens", { "sec-websocket-protocol": "bearer.a, bearer.b" }, 400],
  ];
  for (const [name, headers, status] of cases) {
    await t.step(name, async () => {
      const res = await rawUpgrade(e.url, "/api/chat", headers);
      res.conn.close();
      assert.equal(res.status, status);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
    });
  }
  assert.deepEqual(origin.seen, [], "the origin saw no request at all");
});

Deno.test("a browser's subprotocol token is authorized and kept from the origin", async () => {
  await using origin = startWsOrigin();
  await using e = await productionEdge(origin.url);
  const jwt = await token({ sub: "alice", roles: ["viewer"] });
  const client = connect(`${e.url}/api/chat`, ["chat.v1", `bearer.${jwt}`]);
  await client.opened;
  assert.equal(client.socket.protocol, "chat.v1", "the origin's choice, never the token");
  client.socket.send("hi");
  assert.equal(await client.next(), "hi");
  client.socket.close();
  await client.closed;
  const seen = origin.seen[0].headers;
  assert.equal(seen["sec-websocket-protocol"], "chat.v1");
  assert.equal(seen["x-user-id"], "alice");
  assert.equal(seen["authorization"], `Bearer ${jwt}`);
  assert.ok(!JSON.stringify(origin.seen).includes(`bearer.${jwt}`));
  // Offered alone, the token leaves no subprotocol for the origin nor in the answer.
  const raw = await rawUpgrade(e.url, "/api/chat", { "sec-websocket-protocol": `bearer.${jwt}` });
  raw.conn.close();
  assert.equal(raw.status, 101);
  assert.equal(raw.headers.get("sec-websocket-protocol"), null);
  assert.equal(origin.seen[1].headers["sec-websocket-protocol"], undefined);
});

Deno.test("a client's own X-User-Id never reaches the origin on an upgrade", async () => {
  await using origin = startWsOrigin();
  await using e = await productionEdge(origin.url);
  const jwt = await token({ sub: "alice", roles: ["viewer"] });
  const raw = await rawUpgrade(e.url, "/api/chat", {
    authorization: `Bearer ${jwt}`,
    "x-user-id": "admin",
  });
  raw.conn.close();
  assert.equal(raw.status, 101);
  assert.equal(origin.seen[0].headers["x-user-id"], "alice");
});

Deno.test("an upgrade is never answered from the cache", async () => {
  await using origin = startWsOrigin();
  await using e = await productionEdge(origin.url);
  // The origin's plain answer at /page is cacheable: the second GET is a memory hit.
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${e.url}/page`);
    await res.body?.cancel();
    assert.equal(res.headers.get("x-cache"), i === 0 ? "MISS" : "HIT");
  }
  const raw = await rawUpgrade(e.url, "/page");
  raw.conn.close();
  assert.equal(raw.status, 101);
  assert.equal(origin.seen.length, 2, "the upgrade reached the origin");
  assert.equal(origin.seen[1].headers["upgrade"], "websocket");
});

/**
 * WebSockets through a real edge on port 0 in front of a real origin: messages both ways (text,
 * binary, 1 MiB), close codes and reasons both ways, subprotocols, the forwarding headers on
 * the upgrade, an origin that refuses, an origin that is down, and many sockets at once.
 */

import assert from "node:assert/strict";
import { deadOrigin, makeConfig, startEdge, startOrigin } from "../../helpers.ts";
import { closeOf, connect, rawUpgrade, releaseEvents, startWsOrigin, until } from "./_fixtures.ts";

const MiB = 1024 * 1024;

Deno.test("a WebSocket echoes text, binary and a 1 MiB message through the edge", async () => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }));
  const client = connect(`${e.url}/chat/room-1?x=1`);
  await client.opened;
  client.socket.send("hello");
  assert.equal(await client.next(), "hello");
  client.socket.send("héllo wörld ✓");
  assert.equal(await client.next(), "héllo wörld ✓");
  const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
  client.socket.send(bytes);
  assert.deepEqual(new Uint8Array(await client.next() as ArrayBuffer), bytes);
  const big = crypto.getRandomValues(new Uint8Array(65536)).map((_, i) => i % 251);
  const mib = new Uint8Array(MiB);
  for (let i = 0; i < MiB; i += big.length) mib.set(big.subarray(0, MiB - i), i);
  client.socket.send(mib);
  assert.deepEqual(new Uint8Array(await client.next() as ArrayBuffer), mib);
  const text = "x".repeat(MiB);
  client.socket.send(text);
  assert.equal(await client.next(), text);
  client.socket.close(1000, "done");
  assert.deepEqual(await client.closed, { code: 1000, reason: "done" });
  // The origin saw the canonical path and query of the upgrade.
  assert.equal(origin.seen[0].path, "/chat/room-1?x=1");
  const m = e.edge.metrics;
  await until(() => e.edge.websocket!.stats().open === 0, "the pair to end");
  const messages = m.counter("outpost_websocket_messages_total", "");
  assert.equal(messages.get({ direction: "client_to_origin", type: "text" }), 3);
  assert.equal(messages.get({ direction: "client_to_origin", type: "binary" }), 2);
  assert.equal(messages.get({ direction: "origin_to_client", type: "binary" }), 2);
  const bytesTotal = m.counter("outpost_websocket_bytes_total", "");
  assert.equal(
    bytesTotal.get({ direction: "origin_to_client" }),
    bytesTotal.get({ direction: "client_to_origin" }),
  );
  assert.ok(bytesTotal.get({ direction: "client_to_origin" }) > 2 * MiB);
  assert.equal(
    m.counter("outpost_websocket_upgrades_total", "").get({ outcome: "opened" }),
    1,
  );
  assert.equal(
    m.counter("outpost_websocket_closes_total", "").get({ initiator: "client", code: "1000" }),
    1,
  );
});

Deno.test("close codes and reasons pass both ways", async (t) => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }));
  await t.step("the client closes with 4000", async () => {
    const client = connect(`${e.url}/c1`);
    await client.opened;
    await until(() => origin.sockets.length === 1, "the origin's socket");
    const atOrigin = closeOf(origin.sockets[0]);
    client.socket.close(4000, "client leaves");
    assert.deepEqual(await atOrigin, { code: 4000, reason: "client leaves" });
    assert.deepEqual(await client.closed, { code: 4000, reason: "client leaves" });
  });
  await t.step("the client closes without a code", async () => {
    const client = connect(`${e.url}/c2`);
    await client.opened;
    await until(() => origin.sockets.length === 2, "the origin's socket");
    const atOrigin = closeOf(origin.sockets[1]);
    client.socket.close();
    assert.equal((await atOrigin).code, 1005);
    await client.closed;
  });
  for (const [code, reason] of [[4001, "origin says bye"], [1001, "going"], [1011, "oops"]]) {
    await t.step(`the origin closes with ${code}`, async () => {
      const client = connect(`${e.url}/o${code}`);
      await client.opened;
      client.socket.send(`close:${code}:${reason}`);
      assert.deepEqual(await client.closed, { code, reason });
    });
  }
  await t.step("the origin closes without a code", async () => {
    const client = connect(`${e.url}/o-none`);
    await client.opened;
    client.socket.send("close::");
    assert.equal((await client.closed).code, 1005);
  });
  await until(() => e.edge.websocket!.stats().open === 0, "every pair to end");
  const closes = e.edge.metrics.counter("outpost_websocket_closes_total", "");
  assert.equal(closes.get({ initiator: "client", code: "4xxx" }), 1);
  assert.equal(closes.get({ initiator: "origin", code: "1011" }), 1);
});

Deno.test("the upgrade reaches the origin with the forwarding headers, variant and subprotocols", async () => {
  await using origin = startWsOrigin();
  const config = makeConfig(origin.url, {
    experiments: [{
      name: "exp",
      paths: ["/live/*"],
      variants: [{ name: "A", weight: 1 }, { name: "B", weight: 1 }],
    }],
  });
  await using e = await startEdge(config);
  const client = connect(`${e.url}/live/feed`, ["chat.v2", "chat.v1"], { cookie: "variant=B" });
  await client.opened;
  assert.equal(client.socket.protocol, "chat.v2");
  client.socket.close();
  await client.closed;
  const seen = origin.seen[0].headers;
  assert.equal(seen["sec-websocket-protocol"], "chat.v2, chat.v1");
  assert.equal(seen["x-forwarded-for"], "127.0.0.1");
  assert.equal(seen["x-forwarded-proto"], "http");
  assert.equal(seen["x-forwarded-host"], new URL(e.url).host);
  assert.match(seen["via"], /^1\.1 outpost-/);
  assert.match(seen["x-request-id"], /\S/);
  assert.equal(seen["x-variant"], "B");
  assert.equal(seen["sec-websocket-version"], "13");
  assert.equal(seen["sec-websocket-extensions"], undefined, "no extension offered");
  assert.notEqual(seen["sec-websocket-key"], undefined);
  // The 101 carries the origin's cookie, the upstream region, and stays out of the CDN.
  const raw = await rawUpgrade(e.url, "/live/feed", { "sec-websocket-protocol": "x" });
  try {
    assert.equal(raw.status, 101);
    assert.equal(raw.headers.get("sec-websocket-protocol"), "x");
    assert.equal(raw.headers.get("set-cookie")?.startsWith("session=abc"), true);
    assert.equal(raw.headers.get("deno-cdn-cache-control"), "private, no-store");
    assert.notEqual(raw.headers.get("x-upstream-region"), null);
    assert.notEqual(raw.headers.get("x-request-id"), null);
    assert.equal(
      raw.headers.get("sec-websocket-accept"),
      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "the client's own key is answered by the edge",
    );
  } finally {
    raw.conn.close();
  }
});

Deno.test("an origin that refuses the upgrade is answered as it answered", async () => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }));
  const res = await rawUpgrade(e.url, "/refuse");
  try {
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("x-origin"), "refused");
    assert.equal(res.headers.get("deno-cdn-cache-control"), "private, no-store");
    const body = await res.reader.readExact(Number(res.headers.get("content-length")));
    assert.equal(new TextDecoder().decode(body!), "no sockets for you");
  } finally {
    res.conn.close();
  }
  const client = connect(`${e.url}/refuse`);
  await assert.rejects(client.opened);
  await client.closed;
  const upgrades = e.edge.metrics.counter("outpost_websocket_upgrades_total", "");
  assert.equal(upgrades.get({ outcome: "refused" }), 2);
  assert.equal(e.edge.websocket!.stats().open, 0);
});

Deno.test("an origin that is down is a 502 problem without its address", async () => {
  const dead = deadOrigin();
  await using e = await startEdge(makeConfig(dead, { experiments: [] }));
  const res = await rawUpgrade(e.url, "/chat");
  try {
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const text = new TextDecoder().decode(
      await res.reader.readExact(Number(res.headers.get("content-length"))) ?? undefined,
    );
    const body = JSON.parse(text);
    assert.equal(body.code, "origin_unreachable");
    assert.ok(!text.includes("127.0.0.1") && !text.includes(new URL(dead).port), text);
  } finally {
    res.conn.close();
  }
  assert.deepEqual(e.edge.websocket!.stats().perUser, {}, "the slot was given back");
});

Deno.test("a failed origin is skipped for the next nearest, never tried twice", async () => {
  await using origin = startWsOrigin();
  const dead = deadOrigin();
  await using e = await startEdge(
    makeConfig({ "us-east": dead, "us-west": origin.url, "eu-west": dead }, { experiments: [] }),
  );
  // A client in New York: us-east first (dead), then the next nearest.
  const res = await rawUpgrade(e.url, "/chat", { "x-user-lat": "40.7", "x-user-lon": "-74" });
  try {
    assert.equal(res.status, 101);
    assert.equal(res.headers.get("x-upstream-region"), "us-west");
  } finally {
    res.conn.close();
  }
  const attempts = e.edge.metrics.counter("outpost_origin_attempts_total", "");
  assert.equal(attempts.get({ region: "us-east", outcome: "network_error" }), 1);
  assert.equal(attempts.get({ region: "us-west", outcome: "ok" }), 1);
});

Deno.test("a client's invalid handshake is refused before any origin is contacted", async (t) => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }));
  await t.step("version 8: 426 with the supported version", async () => {
    const res = await rawUpgrade(e.url, "/chat", { "sec-websocket-version": "8" });
    res.conn.close();
    // The fixture sends version 13 first; a second value makes the list "13, 8".
    assert.equal(res.status, 426);
    assert.equal(res.headers.get("sec-websocket-version"), "13");
  });
  await t.step("an invalid subprotocol list: 400", async () => {
    const res = await rawUpgrade(e.url, "/chat", { "sec-websocket-protocol": "a b, c" });
    res.conn.close();
    assert.equal(res.status, 400);
  });
  assert.equal(origin.seen.length, 0);
});

Deno.test("many WebSockets at once each get their own messages", async () => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, {
    experiments: [],
    websocket: { maxConnectionsPerUser: 500 },
  }));
  const n = 150;
  const clients = Array.from({ length: n }, (_, i) => connect(`${e.url}/room/${i}`));
  await Promise.all(clients.map((c) => c.opened));
  assert.equal(e.edge.websocket!.stats().open, n);
  assert.equal(e.edge.metrics.gauge("outpost_websocket_connections", "").get(), n);
  clients.forEach((c, i) => c.socket.send(`message ${i}`));
  const echoed = await Promise.all(clients.map((c) => c.next()));
  assert.deepEqual(echoed, clients.map((_, i) => `message ${i}`));
  clients.forEach((c) => c.socket.close(1000));
  await Promise.all(clients.map((c) => c.closed));
  await until(() => e.edge.websocket!.stats().open === 0, "every pair to end");
  assert.equal(e.edge.metrics.gauge("outpost_websocket_connections", "").get(), 0);
});

Deno.test("with WebSockets off, an upgrade goes to the origin as a plain GET, never to the cache", async () => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, {
    experiments: [],
    websocket: { enabled: false },
  }));
  assert.equal(e.edge.websocket, null);
  const res = await fetch(`${e.url}/page`);
  await res.body?.cancel();
  assert.equal(res.headers.get("x-cache"), "MISS");
  await e.edge.cache!.settled();
  // Only the shared tier holds the page now: the request goes through the cache middleware.
  e.edge.cache!.memory.clear();
  const raw = await rawUpgrade(e.url, "/page");
  raw.conn.close();
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get("x-cache"), null, "the cache did not answer");
  assert.equal(origin.seen.length, 2);
  assert.equal(origin.seen[1].headers["upgrade"], undefined, "hop-by-hop: not forwarded");
});

Deno.test("server-sent events still stream through the edge, event by event", async (t) => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }));
  for (const path of ["/live/events", "/api/events"]) {
    await t.step(path, async () => {
      const id = crypto.randomUUID();
      const res = await fetch(`${e.url}${path}?id=${id}`);
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      // The first event arrives while the origin still holds the second back.
      while (!text.includes("data: first\n\n")) text += (await reader.read()).value ?? "";
      assert.ok(!text.includes("second"));
      releaseEvents(id);
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
      assert.ok(text.endsWith("data: second\n\n"), text);
    });
  }
});

Deno.test("an origin's 503 to the upgrade fails over; a silent origin times out with 504", async (t) => {
  await t.step("503, then the next origin accepts", async () => {
    await using busy = startWsOrigin({}, { status: 503 });
    await using origin = startWsOrigin();
    await using e = await startEdge(
      makeConfig({ "us-east": busy.url, "us-west": origin.url }, { experiments: [] }),
    );
    const res = await rawUpgrade(e.url, "/chat", { "x-user-lat": "40.7", "x-user-lon": "-74" });
    res.conn.close();
    assert.equal(res.status, 101);
    assert.equal(res.headers.get("x-upstream-region"), "us-west");
    assert.equal(busy.seen.length, 1);
  });
  await t.step("every origin silent: 504 origin_timeout", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    (async () => {
      for await (const conn of listener) held.push(conn); // accepts, never answers
    })().catch(() => {});
    const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    try {
      await using e = await startEdge(makeConfig(url, {
        experiments: [],
        websocket: { connectTimeoutMs: 50 },
      }));
      const res = await rawUpgrade(e.url, "/chat");
      res.conn.close();
      assert.equal(res.status, 504);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
    } finally {
      listener.close();
      for (const c of held) c.close();
    }
  });
});

Deno.test("a client that never completes its upgrade releases the origin's socket", async () => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, {
    experiments: [],
    websocket: { connectTimeoutMs: 1000, closeTimeoutMs: 50 },
  }));
  // In process there is no connection to upgrade: the client side never opens.
  const res = await e.edge.fetch(
    new Request(`${e.url}/never`, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    }),
  );
  assert.equal(res.status, 101);
  await until(() => origin.sockets.length === 1, "the origin's socket");
  const atOrigin = closeOf(origin.sockets[0]);
  e.edge.websocket!.sweep();
  assert.equal(e.edge.websocket!.stats().open, 1, "not before its time");
  e.clock.advance(1050);
  e.edge.websocket!.sweep();
  assert.deepEqual(await atOrigin, {
    code: 1001,
    reason: "The client did not complete the upgrade",
  });
  await until(() => e.edge.websocket!.stats().open === 0, "the pair to end");
  assert.deepEqual(e.edge.websocket!.stats().perUser, {});
});

Deno.test("the demo origin's WebSocket echo works through the edge", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }));
  const client = connect(`${e.url}/ws/echo`);
  await client.opened;
  client.socket.send("ping?");
  assert.equal(await client.next(), "ping?");
  client.socket.close();
  await client.closed;
  const plain = await fetch(`${e.url}/ws/echo`);
  await plain.body?.cancel();
  assert.equal(plain.status, 426);
});

Deno.test("without authorization the token subprotocol is still kept from the origin's offer", async () => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] })); // authz off
  const client = connect(`${e.url}/chat`, ["bearer.abc.def", "chat.v1"]);
  await client.opened;
  assert.equal(client.socket.protocol, "chat.v1");
  client.socket.close();
  await client.closed;
  assert.equal(origin.seen[0].headers["sec-websocket-protocol"], "chat.v1");
  assert.equal(origin.seen[0].headers["authorization"], "Bearer abc.def");
});

Deno.test("an upgrade to a URL marked hit-for-pass is relayed, not passed by the cache", async () => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }));
  const cache = e.edge.cache!;
  // As if the origin had just answered this URL uncacheable (the next GET passes straight on).
  cache.passes.mark(`${e.url}/chat/passed`, e.clock.now());
  const client = connect(`${e.url}/chat/passed`);
  await client.opened;
  client.socket.send("still a socket");
  assert.equal(await client.next(), "still a socket");
  client.socket.close(1000, "done");
  await client.closed;
  assert.equal(origin.seen[0].headers["upgrade"]?.toLowerCase(), "websocket");
  assert.equal(
    e.edge.metrics.counter("outpost_cache_hit_for_pass_total", "").get(),
    0,
    "the cache did not pass it",
  );
});

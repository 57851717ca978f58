/**
 * The edge's limits on WebSockets, on real sockets: concurrent sockets per node and per user,
 * message size both ways, memory when one side stops reading (measured as the edge's own
 * buffered amounts), idle and keep-alive time limits (on the injected clock), an origin's pings
 * and protocol violations, and shutdown.
 */

import assert from "node:assert/strict";
import { makeConfig, startEdge } from "../../helpers.ts";
import { OP } from "../../../lib/features/websocket/frame.ts";
import { closeOf, connect, rawUpgrade, startRawOrigin, startWsOrigin, until } from "./_fixtures.ts";

Deno.test("sockets past the node's or a user's limit are refused before the origin", async (t) => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, {
    experiments: [],
    websocket: { maxConnections: 3, maxConnectionsPerUser: 2 },
  }));
  const a = connect(`${e.url}/a`);
  const b = connect(`${e.url}/b`);
  await Promise.all([a.opened, b.opened]);
  await t.step("a user's third socket: 429", async () => {
    const res = await rawUpgrade(e.url, "/c");
    res.conn.close();
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.equal(res.headers.get("retry-after"), "5");
  });
  await t.step("another client's socket past the node's limit: 503", async () => {
    // Another client address: a trusted proxy (loopback in development) forwards it.
    const other = connect(`${e.url}/d`, undefined, { "x-forwarded-for": "198.51.100.7" });
    await other.opened;
    const res = await rawUpgrade(e.url, "/e", { "x-forwarded-for": "198.51.100.8" });
    res.conn.close();
    assert.equal(res.status, 503);
    other.socket.close();
    await other.closed;
  });
  assert.equal(origin.seen.length, 3, "refused upgrades never reached the origin");
  await t.step("a closed socket gives its slot back", async () => {
    a.socket.close();
    await a.closed;
    await until(() => e.edge.websocket!.stats().open === 1, "the pair to end");
    const c = connect(`${e.url}/f`);
    await c.opened;
    c.socket.close();
    await c.closed;
  });
  b.socket.close();
  await b.closed;
  const upgrades = e.edge.metrics.counter("outpost_websocket_upgrades_total", "");
  assert.equal(upgrades.get({ outcome: "limit_user" }), 1);
  assert.equal(upgrades.get({ outcome: "limit_node" }), 1);
});

Deno.test("a message over the limit closes both sides with 1009", async (t) => {
  await t.step("from the client", async () => {
    await using origin = startWsOrigin();
    await using e = await startEdge(makeConfig(origin.url, {
      experiments: [],
      websocket: { maxMessageBytes: 1024 },
    }));
    const client = connect(`${e.url}/x`);
    await client.opened;
    await until(() => origin.sockets.length === 1, "the origin's socket");
    const atOrigin = closeOf(origin.sockets[0]);
    client.socket.send("a".repeat(1024));
    assert.equal(await client.next(), "a".repeat(1024), "a message at the limit passes");
    client.socket.send(new Uint8Array(1025));
    assert.equal((await client.closed).code, 1009);
    assert.equal((await atOrigin).code, 1009);
  });
  await t.step("from the origin, refused from its frame header", async () => {
    // The origin announces 2 MiB and sends nothing more: the edge must not wait to read it.
    await using origin = startRawOrigin(async (s) => {
      s.sendRaw(new Uint8Array([0x82, 127, 0, 0, 0, 0, 0, 0x20, 0, 0]));
      const reply = await s.receive();
      if (reply?.type === "close") closes.push(reply.code ?? 0);
    });
    const closes: number[] = [];
    await using e = await startEdge(makeConfig(origin.url, {
      experiments: [],
      websocket: { maxMessageBytes: 1024 * 1024, closeTimeoutMs: 100 },
    }));
    const client = connect(`${e.url}/x`);
    await client.opened;
    assert.equal((await client.closed).code, 1009);
    await until(() => closes.length === 1, "the origin to get the close");
    assert.deepEqual(closes, [1009]);
  });
});

Deno.test("a client that stops reading stops the origin; the edge holds a bounded amount", async () => {
  const chunk = 64 * 1024;
  let originSocket: WebSocket | null = null;
  let sent = 0;
  await using origin = startWsOrigin({
    "/flood": (socket) => {
      originSocket = socket;
      socket.onopen = async () => {
        // Sends as fast as the origin's own socket accepts: 256 MiB would take minutes to drain.
        while (socket.readyState === WebSocket.OPEN && sent < 256 * 1024 * 1024) {
          if (socket.bufferedAmount < 2 * 1024 * 1024) {
            socket.send(new Uint8Array(chunk));
            sent += chunk;
          } else await new Promise((r) => setTimeout(r, 2));
        }
      };
    },
  });
  const limit = 256 * 1024;
  await using e = await startEdge(makeConfig(origin.url, {
    experiments: [],
    websocket: { maxBufferedBytes: limit },
  }));
  // A client that completes the handshake, then never reads.
  const client = await rawUpgrade(e.url, "/flood");
  assert.equal(client.status, 101);
  try {
    // Back-pressure reached the origin: its socket holds what the edge no longer reads.
    await until(
      () => (originSocket?.bufferedAmount ?? 0) >= 2 * 1024 * 1024,
      "the origin to feel back-pressure",
    );
    await until(() => e.edge.websocket!.stats().pairs[0]?.paused, "the edge to pause reading");
    const pair = e.edge.websocket!.stats().pairs[0];
    // The edge holds at most its limit plus one message (and its frame header).
    assert.ok(pair.clientBufferedMax <= limit + chunk + 14, `${pair.clientBufferedMax}`);
    assert.ok(sent < 256 * 1024 * 1024, "the origin was stopped");
    const most = e.edge.metrics.gauge("outpost_websocket_buffered_max_bytes", "");
    assert.equal(most.get({ direction: "origin_to_client" }), pair.clientBufferedMax);
    assert.ok(
      e.edge.metrics.counter("outpost_websocket_backpressure_pauses_total", "").get() >= 1,
    );
  } finally {
    client.conn.close();
  }
  await until(() => e.edge.websocket!.stats().open === 0, "the pair to end");
});

Deno.test("a client writing faster than the origin reads is closed with 1008", async () => {
  await using origin = startRawOrigin(); // completes the handshake, then never reads
  const limit = 256 * 1024;
  await using e = await startEdge(makeConfig(origin.url, {
    experiments: [],
    websocket: { maxBufferedBytes: limit, closeTimeoutMs: 100 },
  }));
  const client = connect(`${e.url}/upload`);
  await client.opened;
  const chunk = new Uint8Array(64 * 1024);
  let open = true;
  client.closed.then(() => open = false);
  while (open) {
    if (client.socket.bufferedAmount < 1024 * 1024) client.socket.send(chunk);
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.deepEqual(await client.closed, { code: 1008, reason: "The origin reads too slowly" });
  await until(() => e.edge.websocket!.stats().open === 0, "the pair to end");
  const most = e.edge.metrics.gauge("outpost_websocket_buffered_max_bytes", "");
  const held = most.get({ direction: "client_to_origin" });
  assert.ok(held > limit && held <= limit + chunk.length + 14, `${held}`);
  assert.equal(
    e.edge.metrics.counter("outpost_websocket_edge_closes_total", "").get({
      reason: "origin_too_slow",
    }),
    1,
  );
});

Deno.test("an idle pair is closed with 1001 on both sides", async () => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, {
    experiments: [],
    websocket: { idleTimeoutMs: 60_000, pingIntervalMs: 0 },
  }));
  const client = connect(`${e.url}/idle`);
  await client.opened;
  await until(() => origin.sockets.length === 1, "the origin's socket");
  const atOrigin = closeOf(origin.sockets[0]);
  client.socket.send("hi");
  await client.next();
  e.clock.advance(59_999);
  e.edge.websocket!.sweep();
  client.socket.send("still here");
  assert.equal(await client.next(), "still here");
  e.clock.advance(60_000);
  e.edge.websocket!.sweep();
  assert.deepEqual(await client.closed, { code: 1001, reason: "Idle timeout" });
  assert.deepEqual(await atOrigin, { code: 1001, reason: "Idle timeout" });
});

Deno.test("the edge answers an origin's ping and pings a silent origin", async (t) => {
  await t.step("the origin's ping gets a pong with its payload", async () => {
    const pongs: string[] = [];
    await using origin = startRawOrigin(async (s) => {
      s.sendPing(new TextEncoder().encode("are you there"));
      const m = await s.receive();
      if (m?.type === "pong") pongs.push(new TextDecoder().decode(m.data));
    });
    await using e = await startEdge(makeConfig(origin.url, {
      experiments: [],
      websocket: { closeTimeoutMs: 100 },
    }));
    const client = connect(`${e.url}/p`);
    await client.opened;
    await until(() => pongs.length === 1, "the pong");
    assert.deepEqual(pongs, ["are you there"]);
    client.socket.close();
    await client.closed;
  });
  await t.step("an origin that answers keeps the pair open", async () => {
    await using origin = startWsOrigin(); // Deno answers pings itself
    await using e = await startEdge(makeConfig(origin.url, {
      experiments: [],
      websocket: { pingIntervalMs: 30_000, idleTimeoutMs: 0 },
    }));
    const client = connect(`${e.url}/p`);
    await client.opened;
    for (let i = 0; i < 3; i++) {
      e.clock.advance(30_000);
      e.edge.websocket!.sweep();
      assert.equal(e.edge.websocket!.stats().pairs[0].awaitingPong, true);
      await until(() => !e.edge.websocket!.stats().pairs[0].awaitingPong, "the pong");
    }
    client.socket.send("alive");
    assert.equal(await client.next(), "alive");
    client.socket.close();
    await client.closed;
  });
  await t.step("a silent origin is given up with 1011", async () => {
    const frames: number[] = [];
    await using origin = startRawOrigin(async (s) => {
      // Reads what the edge sends (a ping, then the close) but never answers.
      for (let m = await s.receive(); m !== null; m = await s.receive()) {
        frames.push(m.type === "ping" ? OP.ping : m.type === "close" ? OP.close : -1);
        if (m.type === "close") break;
      }
    });
    await using e = await startEdge(makeConfig(origin.url, {
      experiments: [],
      websocket: { pingIntervalMs: 30_000, idleTimeoutMs: 0, closeTimeoutMs: 100 },
    }));
    const client = connect(`${e.url}/p`);
    await client.opened;
    e.clock.advance(30_000);
    e.edge.websocket!.sweep();
    e.clock.advance(30_000);
    e.edge.websocket!.sweep();
    assert.deepEqual(await client.closed, { code: 1011, reason: "The origin stopped answering" });
    await until(() => frames.length === 2, "the ping and the close");
    assert.deepEqual(frames, [OP.ping, OP.close]);
  });
});

Deno.test("an origin breaking the protocol is closed with 1002, its client with 1011", async () => {
  const closes: number[] = [];
  // A server must not mask its frames.
  await using origin = startRawOrigin(async (s) => {
    s.sendText("masked");
    const m = await s.receive();
    if (m?.type === "close") closes.push(m.code ?? 0);
  }, { maskFrames: true });
  await using e = await startEdge(makeConfig(origin.url, {
    experiments: [],
    websocket: { closeTimeoutMs: 100 },
  }));
  const client = connect(`${e.url}/bad`);
  await client.opened;
  assert.deepEqual(await client.closed, { code: 1011, reason: "Origin protocol error" });
  await until(() => closes.length === 1, "the origin to get the close");
  assert.deepEqual(closes, [1002]);
});

Deno.test("shutting the edge down closes every pair with 1001", async () => {
  await using origin = startWsOrigin();
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }));
  const clients = [connect(`${e.url}/s1`), connect(`${e.url}/s2`)];
  await Promise.all(clients.map((c) => c.opened));
  await until(() => origin.sockets.length === 2, "the origin's sockets");
  const atOrigin = origin.sockets.map(closeOf);
  await e.edge.websocket!.close();
  for (const c of clients) {
    assert.deepEqual(await c.closed, { code: 1001, reason: "Edge shutting down" });
  }
  for (const c of await Promise.all(atOrigin)) assert.equal(c.code, 1001);
  assert.equal(e.edge.websocket!.stats().open, 0);
  const res = await rawUpgrade(e.url, "/late");
  res.conn.close();
  assert.equal(res.status, 503, "no new socket while shutting down");
});

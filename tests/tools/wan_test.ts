import assert from "node:assert/strict";
import { startDelayLink } from "../../tools/sim/wan.ts";

function echoServer(): { port: number; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        tasks.push((async () => {
          try {
            await conn.readable.pipeTo(conn.writable);
          } catch {
            // client went away
          }
        })());
      }
    } catch {
      // closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await loop;
      await Promise.allSettled(tasks);
    },
  };
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) throw new Error(`EOF after ${got} of ${n} bytes`);
    got += r;
  }
  return out;
}

Deno.test("startDelayLink() adds the one-way delays to a round trip", async () => {
  const echo = echoServer();
  const link = startDelayLink({
    target: { hostname: "127.0.0.1", port: echo.port },
    upMs: 30,
    downMs: 20,
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: link.port });
  try {
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await conn.write(new TextEncoder().encode("ping"));
      const reply = await readExactly(conn, 4);
      const rtt = performance.now() - started;
      assert.equal(new TextDecoder().decode(reply), "ping");
      assert.ok(rtt >= 49, `round trip ${rtt.toFixed(1)} ms should be at least 30 + 20`);
    }
  } finally {
    conn.close();
    await link.close();
    await echo.close();
  }
});

Deno.test("startDelayLink() keeps byte order and bounds what it holds in flight", async () => {
  const echo = echoServer();
  const link = startDelayLink({
    target: { hostname: "127.0.0.1", port: echo.port },
    upMs: 5,
    downMs: 5,
    maxQueueBytes: 128 * 1024,
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: link.port });
  const size = 4 * 1024 * 1024;
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 2654435761) >>> 24;
  try {
    const writing = (async () => {
      let offset = 0;
      while (offset < size) offset += await conn.write(payload.subarray(offset, offset + 100_000));
    })();
    const received = await readExactly(conn, size);
    await writing;
    assert.deepEqual(received, payload);
    assert.ok(link.peakQueueBytes() <= 128 * 1024 + 64 * 1024, `peak ${link.peakQueueBytes()}`);
  } finally {
    conn.close();
    await link.close();
    await echo.close();
  }
});

Deno.test("startDelayLink() closes the client when the target is down", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const link = startDelayLink({ target: { hostname: "127.0.0.1", port }, upMs: 1, downMs: 1 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: link.port });
  try {
    const n = await conn.read(new Uint8Array(16)).catch(() => null);
    assert.equal(n, null);
  } finally {
    conn.close();
    await link.close();
  }
});

Deno.test("startDelayLink() carries HTTP with the added latency", async () => {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("hi"),
  );
  const link = startDelayLink({
    target: { hostname: "127.0.0.1", port: server.addr.port },
    upMs: 15,
    downMs: 15,
  });
  try {
    const client = Deno.createHttpClient({});
    const url = `http://127.0.0.1:${link.port}/`;
    await (await fetch(url, { client })).text(); // warm connection
    const started = performance.now();
    assert.equal(await (await fetch(url, { client })).text(), "hi");
    assert.ok(performance.now() - started >= 29);
    client.close();
  } finally {
    await link.close();
    await server.shutdown();
  }
});

Deno.test("startDelayLink() holds traffic while cut and delivers it in order after heal", async (t) => {
  const echo = echoServer();
  const link = startDelayLink({
    target: { hostname: "127.0.0.1", port: echo.port },
    upMs: 2,
    downMs: 2,
  });
  try {
    await t.step("an open connection stalls while cut, then resumes", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: link.port });
      try {
        await conn.write(new TextEncoder().encode("a"));
        assert.equal(new TextDecoder().decode(await readExactly(conn, 1)), "a");
        link.cut();
        assert.equal(link.isCut(), true);
        await conn.write(new TextEncoder().encode("bc"));
        const pending = readExactly(conn, 2);
        const early = await Promise.race([
          pending.then(() => "delivered"),
          new Promise((r) => setTimeout(() => r("held"), 150)),
        ]);
        assert.equal(early, "held");
        link.heal();
        assert.equal(new TextDecoder().decode(await pending), "bc");
      } finally {
        conn.close();
      }
    });
    await t.step("a connection opened while cut is forwarded after heal", async () => {
      link.cut();
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: link.port });
      try {
        await conn.write(new TextEncoder().encode("xyz"));
        const pending = readExactly(conn, 3);
        const early = await Promise.race([
          pending.then(() => "delivered"),
          new Promise((r) => setTimeout(() => r("held"), 150)),
        ]);
        assert.equal(early, "held");
        link.heal();
        assert.equal(new TextDecoder().decode(await pending), "xyz");
      } finally {
        conn.close();
      }
    });
    await t.step("bytes() counts what was delivered each way", () => {
      assert.deepEqual(link.bytes(), { up: 6, down: 6 });
    });
  } finally {
    await link.close();
    await echo.close();
  }
});

Deno.test("startDelayLink() close() ends connections that wait for a heal", async () => {
  const echo = echoServer();
  const link = startDelayLink({
    target: { hostname: "127.0.0.1", port: echo.port },
    upMs: 1,
    downMs: 1,
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: link.port });
  try {
    await conn.write(new TextEncoder().encode("q"));
    assert.equal(new TextDecoder().decode(await readExactly(conn, 1)), "q");
    link.cut();
    const waiting = await Deno.connect({ hostname: "127.0.0.1", port: link.port });
    await conn.write(new TextEncoder().encode("r"));
    await new Promise((r) => setTimeout(r, 20));
    await link.close();
    assert.equal(await waiting.read(new Uint8Array(4)).catch(() => null), null);
    waiting.close();
  } finally {
    conn.close();
    await echo.close();
  }
});

Deno.test("startDelayLink() charges a new connection one round trip for the handshake", async (t) => {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("hi"),
  );
  try {
    for (const handshake of [true, false]) {
      await t.step(`handshake ${handshake}`, async () => {
        const link = startDelayLink({
          target: { hostname: "127.0.0.1", port: server.addr.port },
          upMs: 20,
          downMs: 20,
          handshake,
        });
        try {
          const started = performance.now();
          const conn = await Deno.connect({ hostname: "127.0.0.1", port: link.port });
          await conn.write(
            new TextEncoder().encode("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
          );
          while ((await conn.read(new Uint8Array(1024))) !== null) {
            // read to the end
          }
          conn.close();
          const ms = performance.now() - started;
          if (handshake) assert.ok(ms >= 79, `fresh connection took ${ms.toFixed(1)} ms`);
          else assert.ok(ms >= 39 && ms < 79, `without handshake ${ms.toFixed(1)} ms`);
        } finally {
          await link.close();
        }
      });
    }
  } finally {
    await server.shutdown();
  }
});

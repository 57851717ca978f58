import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { makeConfig, startEdge, startOrigin } from "../../helpers.ts";
import { wrapKv } from "./_fixtures.ts";
import { cacheSetup } from "./_setup.ts";

function wholeSecondClock(): ManualClock {
  return new ManualClock(Math.floor(Date.now() / 1000) * 1000);
}

/** An origin that answers every connection with the same raw bytes, then closes it. */
function rawOrigin(response: string): { url: string; hits: () => number } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let hits = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      hits++;
      (async () => {
        const buf = new Uint8Array(16 * 1024);
        await conn.read(buf).catch(() => null);
        await conn.write(new TextEncoder().encode(response)).catch(() => {});
        try {
          conn.close();
        } catch {
          // closed by the peer
        }
      })();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    hits: () => hits,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop;
    },
  };
}

/**
 * An origin that answers each connection with `respond()`'s raw bytes, or, when it returns null,
 * accepts the connection and hangs up at once.
 */
function switchableOrigin(respond: () => string | null): { url: string } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const loop = (async () => {
    for await (const conn of listener) {
      (async () => {
        const raw = respond();
        if (raw !== null) {
          await conn.read(new Uint8Array(16 * 1024)).catch(() => null);
          await conn.write(new TextEncoder().encode(raw)).catch(() => {});
        }
        try {
          conn.close();
        } catch {
          // closed by the peer
        }
      })();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop;
    },
  };
}

Deno.test("RFC 9111 §4.2.4: no stale answer under must-revalidate, proxy-revalidate, no-cache or s-maxage, even when the origin hangs up", async (t) => {
  const clock = wholeSecondClock();
  const windows = "stale-if-error=600, stale-while-revalidate=600";
  const cases: Array<[string, boolean]> = [
    // The controls: the same failure does give a stale answer when nothing forbids it.
    [`max-age=1, ${windows}`, true],
    ["max-age=1, stale-if-error=600", true],
    [`max-age=1, must-revalidate, ${windows}`, false],
    [`max-age=1, proxy-revalidate, ${windows}`, false],
    [`max-age=1, no-cache, ${windows}`, false],
    [`s-maxage=1, ${windows}`, false],
  ];
  for (const [cc, staleOk] of cases) {
    await t.step(cc, async () => {
      let hangUp = false;
      const date = new Date(clock.now()).toUTCString();
      await using origin = switchableOrigin(() =>
        hangUp
          ? null
          : `HTTP/1.1 200 OK\r\nDate: ${date}\r\nContent-Length: 2\r\nCache-Control: ${cc}\r\nETag: "v"\r\n\r\nok`
      );
      await using e = await startEdge(
        makeConfig(origin.url, { experiments: [], proxy: { maxAttempts: 1 } }),
        { clock },
      );
      const first = await fetch(`${e.url}/page`);
      assert.equal(await first.text(), "ok");
      await e.edge.cache!.settled();
      hangUp = true;
      clock.advance(10_000);
      const requests: Record<string, string>[] = [{}, { "cache-control": "max-stale=600" }];
      for (const headers of requests) {
        const res = await fetch(`${e.url}/page`, { headers });
        await res.body?.cancel();
        if (staleOk) assert.equal(res.headers.get("x-cache"), "STALE");
        else {
          assert.equal(res.status, 502, JSON.stringify(headers));
          assert.notEqual(res.headers.get("x-cache"), "STALE");
        }
        await e.edge.cache!.settled();
      }
    });
  }
});

Deno.test("EdgeCache answers from the origin when KV fails", async (t) => {
  await using kvReal = await Deno.openKv(":memory:");
  let down = true;
  const { kv } = wrapKv(kvReal, () => down);
  await t.step("every KV call throws: misses still answered, memory still hits", async () => {
    await using s = await cacheSetup({}, { kv });
    const first = await s.get("/cacheable/kv-down");
    assert.equal(first.res.status, 200);
    assert.equal(first.res.headers.get("x-cache"), "MISS");
    await s.settled();
    const second = await s.get("/cacheable/kv-down");
    assert.equal(second.res.headers.get("x-cache"), "HIT");
    assert.ok(
      s.e.edge.metrics.counter("outpost_cache_kv_errors_total", "").get({ op: "read" }) > 0,
    );
  });
  await t.step("KV only (memory off) and down: every request reaches the origin", async () => {
    await using s = await cacheSetup({ cache: { memoryBytes: 0 } }, { kv });
    for (let i = 0; i < 3; i++) {
      const { res } = await s.get("/cacheable/kv-only");
      assert.equal(res.status, 200);
    }
    assert.equal(s.origin.count("/cacheable/kv-only"), 3);
  });
  await t.step("only commits fail: answered, nothing half-written", async () => {
    const commitsFail = wrapKv(kvReal, (m) => m === "commit");
    down = false;
    await using s = await cacheSetup({ cache: { memoryBytes: 0 } }, { kv: commitsFail.kv });
    const { res } = await s.get("/cacheable/commit-fails?size=200000");
    assert.equal(res.status, 200);
    await s.settled();
    const again = await s.get("/cacheable/commit-fails?size=200000");
    assert.equal(again.res.headers.get("x-cache"), "MISS");
    let stored = 0;
    for await (const _ of kvReal.list({ prefix: ["cache"] })) stored++;
    assert.equal(stored, 0, "no chunk, metadata or lease left behind");
  });
  await t.step("a purge that cannot be recorded is a 503", async () => {
    down = true;
    await using s = await cacheSetup({}, { kv, adminToken: "secret-admin-token-1" });
    const res = await fetch(`${s.e.url}/_edge/purge`, {
      method: "POST",
      headers: { authorization: "Bearer secret-admin-token-1", "content-type": "application/json" },
      body: JSON.stringify({ urls: ["/cacheable/x"] }),
    });
    assert.equal(res.status, 503);
    assert.equal((await res.json()).code, "purge_failed");
  });
});

Deno.test("EdgeCache does not wait for a KV that hangs", async () => {
  await using kvReal = await Deno.openKv(":memory:");
  const hanging = new Proxy(kvReal, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "get" || prop === "getMany") return () => new Promise(() => {});
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  await using s = await cacheSetup({ cache: { kvTimeoutMs: 100, memoryBytes: 0 } }, {
    kv: hanging,
  });
  const started = performance.now();
  const { res } = await s.get("/cacheable/slow-kv");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-cache"), "MISS");
  assert.ok(performance.now() - started < 2000, "answered after the KV timeout, not never");
  assert.ok(s.e.edge.metrics.counter("outpost_cache_kv_errors_total", "").get({ op: "read" }) > 0);
});

Deno.test("EdgeCache answers memory hits without touching KV", async () => {
  await using kvReal = await Deno.openKv(":memory:");
  const { kv, calls } = wrapKv(kvReal);
  await using s = await cacheSetup({}, { kv });
  await s.get("/cacheable/quiet");
  await s.settled();
  const before = JSON.stringify(calls);
  for (let i = 0; i < 20; i++) {
    const { res } = await s.get("/cacheable/quiet", i % 2 ? { method: "HEAD" } : {});
    assert.equal(res.headers.get("x-cache"), "HIT");
  }
  // The slow path (client no-cache on a fresh entry is a revalidation, so use max-stale).
  const slow = await s.get("/cacheable/quiet", { headers: { "cache-control": "max-stale=5" } });
  assert.equal(slow.res.headers.get("x-cache"), "HIT");
  assert.equal(JSON.stringify(calls), before);
});

Deno.test("EdgeCache stores large bodies in chunks and streams oversized ones uncached", async (t) => {
  await t.step("3 MB round-trips through KV chunks", async () => {
    await using s = await cacheSetup();
    const first = await fetch(`${s.e.url}/cacheable/big?size=3000000`);
    const bytes = new Uint8Array(await first.arrayBuffer());
    assert.equal(bytes.length, 3_000_000);
    await s.settled();
    s.e.edge.cache!.memory.clear();
    const fromKv = await fetch(`${s.e.url}/cacheable/big?size=3000000`);
    assert.equal(fromKv.headers.get("x-cache"), "HIT");
    assert.deepEqual(new Uint8Array(await fromKv.arrayBuffer()), bytes);
    assert.equal(s.origin.count("/cacheable/big"), 1);
  });
  await t.step("a body over maxBodyBytes passes through, never stored", async () => {
    await using s = await cacheSetup({ cache: { maxBodyBytes: 10_000 } });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${s.e.url}/cacheable/huge?size=50000`);
      assert.equal((await res.arrayBuffer()).byteLength, 50_000);
      assert.equal(res.headers.get("x-cache"), "MISS");
      assert.match(res.headers.get("cache-status") ?? "", /detail=too-large/);
      await s.settled();
    }
    assert.equal(s.origin.count("/cacheable/huge"), 2);
  });
  await t.step("a reset mid-body is a 502 and nothing is stored", async () => {
    await using s = await cacheSetup();
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${s.e.url}/cacheable/broken?broken=1&size=100000`);
      assert.equal(res.status, 502);
      assert.equal((await res.json()).code, "origin_body_failed");
      await s.settled();
    }
    assert.equal(s.origin.count("/cacheable/broken"), 2);
  });
});

Deno.test("EdgeCache copes with origins that send garbage", async (t) => {
  const clock = wholeSecondClock();
  const date = new Date(clock.now()).toUTCString();
  const cases: Array<[string, string, (res: Response, body: string) => void, number]> = [
    [
      "a body longer than its Content-Length stores exactly the declared bytes",
      `HTTP/1.1 200 OK\r\nDate: ${date}\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\n\r\nhello world`,
      (_res, body) => assert.equal(body, "hello"),
      1,
    ],
    [
      "a negative Age is ignored",
      `HTTP/1.1 200 OK\r\nDate: ${date}\r\nAge: -30\r\nContent-Length: 2\r\nCache-Control: max-age=60\r\n\r\nok`,
      (res) => assert.equal(res.headers.get("age"), "0"),
      1,
    ],
    [
      "an enormous max-age is clamped to maxTtlSeconds",
      `HTTP/1.1 200 OK\r\nDate: ${date}\r\nContent-Length: 2\r\nCache-Control: max-age=999999999999999999999\r\n\r\nok`,
      (res) => assert.match(res.headers.get("cache-status") ?? "", /ttl=31536000/),
      1,
    ],
    [
      "malformed freshness is stale: stored, revalidated every time",
      `HTTP/1.1 200 OK\r\nDate: ${date}\r\nContent-Length: 2\r\nCache-Control: max-age=soon, ;;, s-maxage=\r\nExpires: banana\r\nETag: "x"\r\n\r\nok`,
      (res) => assert.equal(res.status, 200),
      2,
    ],
  ];
  for (const [name, raw, check, originHits] of cases) {
    await t.step(name, async () => {
      await using origin = rawOrigin(raw);
      await using e = await startEdge(makeConfig(origin.url, { experiments: [] }), { clock });
      const first = await fetch(`${e.url}/page`);
      check(first, await first.text());
      await e.edge.cache!.settled();
      const second = await fetch(`${e.url}/page`);
      check(second, await second.text());
      assert.equal(origin.hits(), originHits);
    });
  }
  await t.step("a body cut short of its Content-Length is a 502, never stored", async () => {
    await using origin = rawOrigin(
      `HTTP/1.1 200 OK\r\nDate: ${date}\r\nContent-Length: 100\r\nCache-Control: max-age=60\r\n\r\nshort`,
    );
    await using e = await startEdge(makeConfig(origin.url, { experiments: [] }), { clock });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${e.url}/page`);
      assert.equal(res.status, 502);
      await res.body?.cancel();
      await e.edge.cache!.settled();
    }
    assert.equal(origin.hits(), 2);
  });
});

/** KV whose atomic writes are recorded by the area and kind of key they touch. */
function recordingKv(kv: Deno.Kv): { kv: Deno.Kv; writes: string[] } {
  const writes: string[] = [];
  const proxy = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "atomic") return typeof value === "function" ? value.bind(target) : value;
      return () => {
        const op = target.atomic();
        const record = (verb: string) => (key: Deno.KvKey) =>
          writes.push(`${verb} ${String(key[1])}`);
        for (const verb of ["set", "delete", "sum"] as const) {
          const original = op[verb].bind(op) as (...args: unknown[]) => Deno.AtomicOperation;
          (op as unknown as Record<string, unknown>)[verb] = (
            key: Deno.KvKey,
            ...rest: unknown[]
          ) => {
            record(verb)(key);
            original(key, ...rest);
            return op;
          };
        }
        return op;
      };
    },
  });
  return { kv: proxy, writes };
}

Deno.test("EdgeCache: a new URL's miss takes no fill lease unless cache.lease is always", async () => {
  const clock = wholeSecondClock();
  await using origin = startOrigin("demo", clock);
  for (const [lease, expected] of [["known", false], ["always", true]] as const) {
    await using real = await Deno.openKv(":memory:");
    const recorded = recordingKv(real);
    await using e = await startEdge(
      makeConfig(origin.url, { experiments: [], cache: { lease } }),
      { clock, kv: recorded.kv },
    );
    for (const path of ["/cacheable/new-stored", "/cacheable/new-passed?cc=no-store"]) {
      const res = await fetch(`${e.url}${path}`);
      await res.body?.cancel();
      assert.match(res.headers.get("cache-status") ?? "", /fwd=miss/);
    }
    await e.edge.cache!.settled();
    const leases = recorded.writes.filter((w) => w.endsWith(" lease"));
    assert.equal(leases.length > 0, expected, `${lease}: ${recorded.writes.join(", ")}`);
    // What a stored miss writes: its reservation in the usage counter, and the entry itself.
    assert.ok(recorded.writes.includes("set meta"), recorded.writes.join(", "));
  }
});

Deno.test("EdgeCache shares a known URL's revalidation across two nodes through the lease", async () => {
  const clock = wholeSecondClock();
  await using origin = startOrigin("demo", clock);
  await using kv = await Deno.openKv(":memory:");
  const config = makeConfig(origin.url, { experiments: [], cache: { ignoreHost: true } });
  await using a = await startEdge(config, { clock, kv });
  await using b = await startEdge(config, { clock, kv });
  const path = "/cacheable/known?max_age=10&swr=0&delay_ms=300";
  const first = await fetch(`${a.url}${path}`);
  await first.body?.cancel();
  await a.edge.cache!.settled();
  clock.advance(20_000); // stale everywhere: a has it in memory, b only in KV
  const [ra, rb] = await Promise.all([
    fetch(`${a.url}${path}`),
    new Promise((r) => setTimeout(r, 50)).then(() => fetch(`${b.url}${path}`)),
  ]);
  assert.equal(await ra.text(), await rb.text());
  assert.equal(origin.count("/cacheable/known"), 2, "one fill, then one revalidation for both");
  assert.match(rb.headers.get("cache-status") ?? "", /collapsed/);
});

Deno.test("EdgeCache shares a new URL's fill across two nodes when cache.lease is always", async () => {
  const clock = wholeSecondClock();
  await using origin = startOrigin("demo", clock);
  await using kv = await Deno.openKv(":memory:");
  // Two nodes on two ports: keys without the host, as behind one hostname.
  const config = makeConfig(origin.url, {
    experiments: [],
    cache: { ignoreHost: true, lease: "always" },
  });
  await using a = await startEdge(config, { clock, kv });
  await using b = await startEdge(config, { clock, kv });
  const path = "/cacheable/shared?delay_ms=300";
  const [ra, rb] = await Promise.all([
    fetch(`${a.url}${path}`),
    new Promise((r) => setTimeout(r, 50)).then(() => fetch(`${b.url}${path}`)),
  ]);
  assert.equal(await ra.text(), await rb.text());
  assert.equal(origin.count("/cacheable/shared"), 1);
  assert.match(rb.headers.get("cache-status") ?? "", /collapsed/);
});

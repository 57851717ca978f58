/** A function's KV namespace: values, keys, expiry with the injected clock, prefixes, isolation. */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../../../lib/core/clock.ts";
import { MAX_KV_VALUE_BYTES } from "../../../lib/features/functions/config.ts";
import { FunctionKvStore, keyProblem } from "../../../lib/features/functions/kv.ts";
import type { JsonValue } from "outpost/functions";

const LIMITS = { maxValueBytes: MAX_KV_VALUE_BYTES, maxKeyBytes: 512 };

async function makeStores(...namespaces: string[]) {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock();
  const stores = namespaces.map((ns) => new FunctionKvStore(kv, ns, { clock, limits: LIMITS }));
  return {
    kv,
    clock,
    stores,
    [Symbol.dispose]: () => kv.close(),
  };
}

Deno.test("FunctionKvStore.put() then get() returns the value as JSON would carry it", async () => {
  using s = await makeStores("a");
  const [a] = s.stores;
  await fc.assert(
    fc.asyncProperty(
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.jsonValue(),
      async (key, value) => {
        fc.pre(keyProblem(key, LIMITS.maxKeyBytes) === null);
        await a.put(key, value as JsonValue);
        assert.deepEqual(await a.get(key), JSON.parse(JSON.stringify(value)));
      },
    ),
    { numRuns: 200 },
  );
  assert.equal(await a.get("never written"), null);
});

Deno.test("FunctionKvStore.put() refuses what JSON would silently change or lose", async (t) => {
  using s = await makeStores("a");
  const [a] = s.stores;
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  class Point {
    x = 1;
  }
  const cases: Array<[string, unknown, RegExp]> = [
    ["undefined", undefined, /Not JSON: a undefined/],
    ["a function", () => 1, /Not JSON: a function/],
    ["NaN", NaN, /Not a finite number/],
    ["Infinity inside", { a: [1, Infinity] }, /value\.a\[1\]: Not a finite number/],
    ["a bigint", 1n, /Not JSON: a bigint/],
    ["a Date", new Date(0), /Not JSON: a Date/],
    ["a Map", new Map(), /Not JSON: a Map/],
    ["a class instance", new Point(), /Not JSON: a Point/],
    ["undefined in an object", { a: undefined }, /value\.a: Not JSON: a undefined/],
    ["a hole", [1, , 3], /hole in the array/],
    ["symbol keys", { [Symbol("s")]: 1 }, /symbol keys/],
    ["a cycle", cyclic, /Nested deeper than 64 levels/],
  ];
  for (const [what, value, message] of cases) {
    await t.step(what, async () => {
      await assert.rejects(() => a.put("k", value as never), (e: Error) => {
        assert.ok(e instanceof TypeError);
        assert.match(e.message, message);
        return true;
      });
    });
  }
  assert.equal(await a.get("k"), null);
});

Deno.test("FunctionKvStore values are limited to 64 KiB of JSON (and that much fits in Deno KV)", async (t) => {
  using s = await makeStores("a");
  const [a] = s.stores;
  const overhead = 2; // the quotes of a JSON string
  await t.step("at the limit (ASCII)", async () => {
    const value = "x".repeat(MAX_KV_VALUE_BYTES - overhead);
    await a.put("big", value);
    assert.equal(await a.get("big"), value);
  });
  await t.step("at the limit (4-byte characters)", async () => {
    const value = "😀".repeat((MAX_KV_VALUE_BYTES - overhead) / 4);
    await a.put("emoji", value);
    assert.equal(((await a.get("emoji")) as string).length, value.length);
  });
  await t.step("one byte over", async () => {
    await assert.rejects(
      () => a.put("big", "x".repeat(MAX_KV_VALUE_BYTES - overhead + 1)),
      (e: Error) =>
        e instanceof RangeError && /larger than 65472 bytes of JSON: 65473/.test(e.message),
    );
  });
});

Deno.test("FunctionKvStore keys: non-empty strings of at most 512 bytes, no controls", async (t) => {
  using s = await makeStores("a");
  const [a] = s.stores;
  for (
    const [what, key] of [
      ["empty", ""],
      ["not a string", 7],
      ["too long", "é".repeat(257)],
      ["a control character", "a\nb"],
      ["a lone surrogate", "a\ud800"],
    ] as const
  ) {
    await t.step(what, async () => {
      await assert.rejects(() => a.put(key as string, 1), TypeError);
      await assert.rejects(() => a.get(key as string), TypeError);
    });
  }
  await a.put("é".repeat(256), 1);
  assert.equal(await a.get("é".repeat(256)), 1);
});

Deno.test("FunctionKvStore expirationTtl is honoured with the injected clock", async (t) => {
  using s = await makeStores("a");
  const [a] = s.stores;
  await a.put("session", { user: "u" }, { expirationTtl: 60 });
  await a.put("forever", 1);
  await t.step("present until the TTL has passed, with its expiry listed", async () => {
    s.clock.advance(59_999);
    assert.deepEqual(await a.get("session"), { user: "u" });
    const page = await a.list();
    assert.deepEqual(page.entries.map((e) => [e.key, e.expiresAt]), [
      ["forever", null],
      ["session", Date.UTC(2026, 0, 1) + 60_000],
    ]);
  });
  await t.step("gone from get and list at the TTL, though KV may still hold it", async () => {
    s.clock.advance(1);
    assert.equal(await a.get("session"), null);
    assert.deepEqual((await a.list()).entries.map((e) => e.key), ["forever"]);
  });
  await t.step("a new put restarts the TTL", async () => {
    await a.put("session", 2, { expirationTtl: 1 });
    assert.equal(await a.get("session"), 2);
    s.clock.advance(1000);
    assert.equal(await a.get("session"), null);
  });
  await t.step("a bad TTL is refused", async () => {
    for (const ttl of [0, -1, 0.5, NaN, 1e12, "60" as unknown as number]) {
      await assert.rejects(() => a.put("x", 1, { expirationTtl: ttl }), RangeError);
    }
  });
});

Deno.test("FunctionKvStore.list() pages through one prefix in key order", async (t) => {
  using s = await makeStores("a");
  const [a] = s.stores;
  for (let i = 0; i < 25; i++) await a.put(`user:${String(i).padStart(2, "0")}`, i);
  await a.put("user", "no colon");
  await a.put("user:\uffff", "high");
  await a.put("users:1", "other prefix");
  await a.put("team:1", "other");
  await t.step("pages of 10 with cursors, nothing outside the prefix", async () => {
    const keys: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await a.list({ prefix: "user:", limit: 10, cursor });
      keys.push(...page.entries.map((e) => e.key));
      cursor = page.cursor ?? undefined;
      pages++;
    } while (cursor !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual(keys, [
      ...Array.from({ length: 25 }, (_, i) => `user:${String(i).padStart(2, "0")}`),
      "user:\uffff",
    ]);
  });
  await t.step("an empty prefix lists everything", async () => {
    assert.equal((await a.list({ limit: 1000 })).entries.length, 29);
  });
  await t.step("bad options are refused", async () => {
    await assert.rejects(() => a.list({ limit: 0 }), RangeError);
    await assert.rejects(() => a.list({ limit: 1001 }), RangeError);
    await assert.rejects(() => a.list({ prefix: "a\u0000" }), TypeError);
    await assert.rejects(() => a.list({ cursor: "not a cursor!" }), TypeError);
  });
});

Deno.test("FunctionKvStore namespaces are isolated from each other and from Outpost's keys", async () => {
  using s = await makeStores("writer", "reader");
  const [writer, reader] = s.stores;
  await writer.put("k", "mine");
  await s.kv.set(["items", "item", "k"], "outpost's");
  assert.equal(await reader.get("k"), null);
  assert.deepEqual((await reader.list()).entries, []);
  assert.deepEqual((await writer.list()).entries.map((e) => e.value), ["mine"]);
  const raw = await Array.fromAsync(s.kv.list({ prefix: ["functions"] }), (e) => e.key);
  assert.deepEqual(raw, [["functions", "kv", "writer", "k"]]);
});

Deno.test("FunctionKvStore ignores and reports values it did not write", async () => {
  const kv = await Deno.openKv(":memory:");
  const corrupt: string[] = [];
  const a = new FunctionKvStore(kv, "a", {
    clock: new ManualClock(),
    limits: LIMITS,
    onCorrupt: (key) => corrupt.push(key),
  });
  await kv.set(["functions", "kv", "a", "odd"], { something: "else" });
  await kv.set(["functions", "kv", "a", "bad-json"], { v: 1, e: null, b: new Uint8Array([123]) });
  assert.equal(await a.get("odd"), null);
  assert.equal(await a.get("bad-json"), null);
  assert.deepEqual((await a.list()).entries, []);
  assert.deepEqual(corrupt.sort(), ["bad-json", "bad-json", "odd", "odd"]);
  kv.close();
});

Deno.test("FunctionKvStore reads with strong (default) or eventual consistency", async () => {
  using s = await makeStores("a");
  const [a] = s.stores;
  await a.put("k", "v");
  assert.equal(await a.get("k", { consistency: "eventual" }), "v");
  assert.equal((await a.list({ consistency: "eventual" })).entries.length, 1);
  await assert.rejects(() => a.get("k", { consistency: "fast" as "strong" }), TypeError);
});

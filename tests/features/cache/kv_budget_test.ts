import assert from "node:assert/strict";
import type { StoredEntry } from "../../../lib/features/cache/entry.ts";
import {
  cacheBodyPrefix,
  cacheIndexPrefix,
  cacheMetaKey,
  cacheUsageKey,
  kvSlot,
} from "../../../lib/features/cache/keys.ts";
import { accountedBytes, KvStore } from "../../../lib/features/cache/kv_store.ts";
import { MemoryTier } from "../../../lib/features/cache/memory.ts";
import { Publisher } from "../../../lib/features/cache/publish.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import { makeBody, makeEntry, makeTiming } from "./_fixtures.ts";
import { cacheSetup } from "./_setup.ts";

const NOW = Date.UTC(2026, 0, 1);
const KiB = 1024;

/** What the index says, and what the counters say. */
async function books(kv: Deno.Kv, store: KvStore): Promise<{ indexed: number; used: number }> {
  let indexed = 0;
  for await (const e of kv.list<{ bytes: number }>({ prefix: cacheIndexPrefix() })) {
    indexed += e.value.bytes;
  }
  return { indexed, used: await store.budget.used() };
}

/** Every byte of value and key under `["cache"]`, as KV holds them. */
async function kvBytes(kv: Deno.Kv): Promise<number> {
  let n = 0;
  for await (const e of kv.list({ prefix: ["cache"] })) {
    n += JSON.stringify(e.key).length;
    n += e.value instanceof Uint8Array
      ? e.value.byteLength
      : e.value instanceof Deno.KvU64
      ? 8
      : JSON.stringify(e.value, (_k, v) => v instanceof Uint8Array ? v.byteLength : v).length;
  }
  return n;
}

async function write(
  store: KvStore,
  url: string,
  size: number,
  o: { expireIn?: number; now?: number; entry?: Partial<StoredEntry> } = {},
): Promise<boolean> {
  const slot = await kvSlot(url, "");
  const current = await store.readMeta(slot);
  return await store.write(slot, makeEntry(url, size, o.entry), makeBody(size, size % 7), {
    expireIn: o.expireIn ?? 60_000,
    now: o.now ?? NOW,
    guard: { metaVersionstamp: current.versionstamp, purgeVersionstamp: null },
    previous: current.value?.kind === "entry" ? current.value.entry : null,
  });
}

Deno.test("KvStore keeps KV within its byte budget, evicting the soonest-expiring first", async () => {
  using kv = await Deno.openKv(":memory:");
  const removed: Array<[string, number]> = [];
  const store = new KvStore(kv, {
    maxBytes: 600 * KiB,
    onRemoved: (reason, entries) => removed.push([reason, entries]),
  });
  // 40 distinct 60 KiB pages (a cache-busting flood), each expiring later than the last.
  for (let i = 0; i < 40; i++) {
    assert.ok(await write(store, `h/flood-${i}`, 60 * KiB, { expireIn: 60_000 + i * 1000 }));
    const { used } = await books(kv, store);
    assert.ok(used <= 600 * KiB, `after ${i}: ${used}`);
  }
  const { indexed, used } = await books(kv, store);
  assert.equal(indexed, used, "the counters agree with the index");
  assert.ok(removed.length > 0 && removed.every(([reason]) => reason === "budget"));
  // What is left is the newest pages: the first ones were evicted, bodies and all.
  assert.equal((await store.readMeta(await kvSlot("h/flood-0", ""))).value, null);
  assert.equal((await store.readMeta(await kvSlot("h/flood-39", ""))).value?.kind, "entry");
  let chunks = 0;
  for await (const _ of kv.list({ prefix: ["cache", "body"] })) chunks++;
  const kept = [...Array(40).keys()].length;
  assert.ok(chunks < kept * 2, `no orphaned chunks: ${chunks}`);
  assert.ok(await kvBytes(kv) <= 600 * KiB * 1.05, "KV holds about what was counted");
});

Deno.test("KvStore counts replaced and purged entries out", async (t) => {
  using kv = await Deno.openKv(":memory:");
  const store = new KvStore(kv, { maxBytes: 4 * 1024 * KiB });
  await t.step("a new version of the same URL replaces the old one's bytes", async () => {
    await write(store, "h/page", 100 * KiB);
    const once = (await books(kv, store)).used;
    await write(store, "h/page", 100 * KiB, { now: NOW + 5000 });
    const { used, indexed } = await books(kv, store);
    assert.equal(used, once);
    assert.equal(indexed, used);
  });
  await t.step("a hard purge takes the entry and its bytes out", async () => {
    const slot = await kvSlot("h/page", "");
    assert.equal(await store.purgeSlot(slot, { soft: false, now: NOW }), true);
    assert.deepEqual(await books(kv, store), { indexed: 0, used: 0 });
  });
  await t.step("a soft purge keeps the bytes and moves the entry's expiry", async () => {
    await write(store, "h/soft", 10 * KiB, { expireIn: 3_600_000 });
    const slot = await kvSlot("h/soft", "");
    await store.purgeSlot(slot, { soft: true, now: NOW + 1000 });
    const read = await store.readMeta(slot);
    assert.ok(read.value?.kind === "entry" && read.value.entry.kv);
    if (read.value?.kind !== "entry") return;
    // Stale from now: kept for its windows only (the fixture has none) — not another hour.
    assert.ok(read.value.entry.kv!.until <= NOW + 1000 + 1000);
    const { indexed, used } = await books(kv, store);
    assert.equal(indexed, used);
  });
});

Deno.test("KvBudget.sweep() removes expired entries and counts them out", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new KvStore(kv, { maxBytes: 4 * 1024 * KiB });
  await write(store, "h/short", 70 * KiB, { expireIn: 10_000 });
  await write(store, "h/long", 70 * KiB, { expireIn: 600_000 });
  const before = (await books(kv, store)).used;
  assert.equal(await store.budget.sweep(NOW + 5000), 0);
  assert.equal(await store.budget.sweep(NOW + 20_000), 1);
  const after = await books(kv, store);
  assert.ok(after.used < before / 2 + 1000);
  assert.equal(after.indexed, after.used);
  assert.equal((await store.readMeta(await kvSlot("h/short", ""))).value, null);
  const long = await store.readMeta(await kvSlot("h/long", ""));
  assert.equal(long.value?.kind, "entry");
  let chunks = 0;
  for await (const _ of kv.list({ prefix: ["cache", "body"] })) chunks++;
  assert.equal(chunks, 2, "only the long entry's chunks are left");
});

Deno.test("KvBudget counts entries KV expired by itself, and corrects drifted counters", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new KvStore(kv, { maxBytes: 4 * 1024 * KiB });
  await write(store, "h/a", 5 * KiB);
  await write(store, "h/b", 5 * KiB);
  // KV dropped the metadata on its own (expireIn): the index entry is an orphan.
  await kv.delete(cacheMetaKey(await kvSlot("h/a", "")));
  await store.budget.sweep(NOW + 3_600_000);
  assert.deepEqual(await books(kv, store), { indexed: 0, used: 0 });
  await write(store, "h/c", 5 * KiB);
  const right = (await books(kv, store)).used;
  await kv.set(cacheUsageKey("added"), new Deno.KvU64(123_456_789n));
  const drift = await store.budget.reconcile();
  assert.ok(drift !== null && drift > 0);
  assert.equal(await store.budget.used(), right);
  assert.equal(await store.budget.reconcile(), 0);
});

Deno.test("two isolates sharing KV hold one budget between them", async () => {
  using kv = await Deno.openKv(":memory:");
  const a = new KvStore(kv, { maxBytes: 800 * KiB });
  const b = new KvStore(kv, { maxBytes: 800 * KiB });
  await Promise.all(
    [...Array(30).keys()].map((i) =>
      write(i % 2 ? a : b, `h/both-${i}`, 50 * KiB, { expireIn: 60_000 + i })
    ),
  );
  const { indexed, used } = await books(kv, a);
  assert.equal(indexed, used, "concurrent writers and evictors never double-count");
  // Each write reserves its bytes before it starts: concurrent writers see each other's.
  assert.ok(used <= 800 * KiB, `${used}`);
});

Deno.test("an entry larger than a quarter of the budget stays out of KV", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new KvStore(kv, { maxBytes: 400 * KiB });
  assert.equal(await write(store, "h/huge", 150 * KiB), false);
  let keys = 0;
  for await (const _ of kv.list({ prefix: ["cache"] })) keys++;
  assert.equal(keys, 0);
  const entry = makeEntry("h/x", 10, { timing: makeTiming(NOW), tags: ["a", "b"] });
  assert.ok(accountedBytes(entry, 10) > 10, "keys and fields count too");
  assert.ok(accountedBytes(entry, 100_000) > 100_000 + 2 * 48, "chunk keys count too");
  assert.equal(await store.readBody(entry, undefined), null);
  assert.equal(cacheBodyPrefix("v").length, 3);
});

Deno.test("a cache-busting flood through the edge stays within cache.kv.maxBytes", async () => {
  await using s = await cacheSetup({ cache: { kv: { maxBytes: 1024 * KiB }, memoryBytes: 0 } });
  for (let i = 0; i < 40; i++) {
    const { res } = await s.get(`/cacheable/bust-${i}?size=65536&max_age=600`);
    assert.equal(res.status, 200);
    await s.settled();
  }
  const store = s.e.edge.cache!.store;
  const used = await store.budget.used();
  assert.ok(used <= 1024 * KiB, `${used}`);
  assert.ok(await kvBytes(s.e.kv) <= 1024 * KiB * 1.05);
  const evictions = s.e.edge.metrics.counter("outpost_cache_kv_evictions_total", "");
  assert.ok(evictions.get({ reason: "budget" }) > 20);
  const last = await s.get("/cacheable/bust-39?size=65536&max_age=600");
  assert.equal(last.res.headers.get("x-cache"), "HIT", "the newest pages are still in KV");
  const snapshot = s.e.edge.cache!.snapshot();
  assert.equal(snapshot.kv.budgetBytes, 1024 * KiB);
});

Deno.test("entries leave KV soon after they stop being servable", async () => {
  await using s = await cacheSetup({ cache: { memoryBytes: 0 } });
  const path = "/cacheable/ttl?max_age=60&swr=30&sie=0";
  await s.get(path);
  await s.settled();
  const store = s.e.edge.cache!.store;
  const slot = await kvSlot(`${s.e.url}${path}`, "");
  const read = await store.readMeta(slot);
  if (read.value?.kind !== "entry") throw new Error("not stored");
  // Fresh for 60 s, then kept 5 minutes for revalidation with its validators
  // (cache.kv.keepStaleSeconds, which outlasts its 30 s of SWR): not a day (keepStaleSeconds).
  assert.equal(read.value.entry.kv!.until - s.clock.now(), (60 + 300) * 1000);
  s.clock.advance(359_000);
  await s.e.edge.cache!.sweepKv(1);
  assert.equal((await store.readMeta(slot)).value?.kind, "entry");
  s.clock.advance(2000);
  await s.e.edge.cache!.sweepKv(1);
  assert.equal((await store.readMeta(slot)).value, null);
  assert.equal(await store.budget.used(), 0);
  const evictions = s.e.edge.metrics.counter("outpost_cache_kv_evictions_total", "");
  assert.equal(evictions.get({ reason: "expired" }), 1);
});

Deno.test("Publisher writes four at a time and keeps a flood's backlog bounded", async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let writes = 0;
  let running = 0;
  let most = 0;
  const store = {
    expireIn: () => 60_000,
    async write() {
      most = Math.max(most, ++running);
      await gate;
      running--;
      writes++;
      return true;
    },
  } as unknown as KvStore;
  const skipped: string[] = [];
  const publisher = new Publisher({
    store,
    memory: new MemoryTier({ maxBytes: 0 }),
    clock: new ManualClock(NOW),
    kvError: (op, error) => {
      throw new Error(`${op}: ${error}`);
    },
    kvSkipped: (reason) => skipped.push(reason),
  });
  const read = { value: null, versionstamp: null };
  const publish = (i: number, size: number) =>
    publisher.publish(makeEntry(`h/p${i}`, size), new Uint8Array(size), read, null, null);
  const pending = [
    ...[0, 1, 2, 3].map((i) => publish(i, 1000)), // the four running writes
    publish(4, 12 * 1024 * KiB), // waiting: 12 MiB
    publish(5, 12 * 1024 * KiB), // waiting: 24 MiB
    publish(6, 12 * 1024 * KiB), // 36 MiB would wait: kept out of KV
    publish(7, 1000), // still fits
  ];
  await new Promise((r) => setTimeout(r, 0)); // every publish has reached its slot or the queue
  assert.deepEqual(skipped, ["backlog"]);
  open();
  await Promise.all(pending);
  assert.equal(writes, 7);
  assert.equal(most, 4);
});

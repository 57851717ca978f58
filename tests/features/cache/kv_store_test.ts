import assert from "node:assert/strict";
import { cacheBodyPrefix, cacheMetaKey, kvSlot } from "../../../lib/features/cache/keys.ts";
import { CHUNK_BYTES, KvStore } from "../../../lib/features/cache/kv_store.ts";
import { makeBody, makeEntry, wrapKv } from "./_fixtures.ts";

const NO_GUARD = { metaVersionstamp: null, purgeVersionstamp: null };

async function countChunks(kv: Deno.Kv, version: string): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: cacheBodyPrefix(version) })) n++;
  return n;
}

Deno.test("KvStore.write() round-trips inline and chunked bodies", async (t) => {
  using kv = await Deno.openKv(":memory:");
  const store = new KvStore(kv);
  for (const size of [0, 10, 40_000, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * 1024 * 1024 + 17]) {
    await t.step(`${size} bytes`, async () => {
      const slot = await kvSlot(`h/size-${size}`, "");
      const body = makeBody(size, size);
      const entry = makeEntry(slot.url, size);
      assert.equal(
        await store.write(slot, entry, body, {
          expireIn: 60_000,
          now: Date.now(),
          guard: NO_GUARD,
        }),
        true,
      );
      const read = await store.readMeta(slot);
      assert.equal(read.value?.kind, "entry");
      if (read.value?.kind !== "entry") return;
      const expectedChunks = size <= 48 * 1024 - 100 ? 0 : Math.ceil(size / CHUNK_BYTES);
      assert.equal(read.value.entry.chunks, expectedChunks);
      assert.deepEqual(await store.readBody(read.value.entry, read.value.body), body);
    });
  }
});

Deno.test("KvStore.write() never exposes a torn body", async (t) => {
  using kv = await Deno.openKv(":memory:");
  const slot = await kvSlot("h/torn", "");
  const store = new KvStore(kv);
  const oldBody = makeBody(500_000, 1);
  const oldEntry = makeEntry(slot.url, oldBody.length);
  await store.write(slot, oldEntry, oldBody, {
    expireIn: 60_000,
    now: Date.now(),
    guard: NO_GUARD,
  });
  const before = await store.readMeta(slot);

  // 700 KB is two chunk commits (10 + 2 chunks), then the metadata publish: crash at each.
  const crashes = [[1, "first chunk batch"], [2, "second chunk batch"], [3, "publish"]] as const;
  for (const [crashAt, what] of crashes) {
    await t.step(`a crash at the ${what} leaves the old entry whole`, async () => {
      let commits = 0;
      const { kv: crashing } = wrapKv(kv, (m) => m === "commit" && ++commits >= crashAt);
      const newBody = makeBody(700_000, 2);
      await assert.rejects(() =>
        new KvStore(crashing).write(slot, makeEntry(slot.url, newBody.length), newBody, {
          expireIn: 60_000,
          now: Date.now(),
          guard: { metaVersionstamp: before.versionstamp, purgeVersionstamp: null },
        })
      );
      const after = await store.readMeta(slot);
      assert.equal(after.versionstamp, before.versionstamp);
      if (after.value?.kind !== "entry") throw new Error("entry gone");
      assert.deepEqual(await store.readBody(after.value.entry, after.value.body), oldBody);
    });
  }

  await t.step("a reader whose chunks disappear gets null, not a partial body", async () => {
    const read = await store.readMeta(slot);
    if (read.value?.kind !== "entry") throw new Error("entry gone");
    await kv.delete([...cacheBodyPrefix(read.value.entry.version), 3]);
    assert.equal(await store.readBody(read.value.entry, undefined), null);
  });

  await t.step("a write whose guard is stale is refused and its chunks removed", async () => {
    const newBody = makeBody(200_000, 3);
    const entry = makeEntry(slot.url, newBody.length);
    const ok = await store.write(slot, entry, newBody, {
      expireIn: 60_000,
      now: Date.now(),
      guard: { metaVersionstamp: "00000000000000000000", purgeVersionstamp: null },
    });
    assert.equal(ok, false);
    assert.equal(await countChunks(kv, entry.version), 0);
  });

  await t.step("replacing an entry deletes the previous body's chunks", async () => {
    const current = await store.readMeta(slot);
    if (current.value?.kind !== "entry") throw new Error("entry gone");
    const previous = current.value.entry;
    const newBody = makeBody(130_000, 4);
    const ok = await store.write(slot, makeEntry(slot.url, newBody.length), newBody, {
      expireIn: 60_000,
      now: Date.now(),
      guard: { metaVersionstamp: current.versionstamp, purgeVersionstamp: null },
      previous,
    });
    assert.equal(ok, true);
    assert.equal(await countChunks(kv, previous.version), 0);
  });
});

Deno.test("KvStore.readMeta() treats values of another shape as misses", async () => {
  using kv = await Deno.openKv(":memory:");
  const slot = await kvSlot("h/junk", "");
  const reported: string[] = [];
  const store = new KvStore(kv, { onInvalid: (_k, reason) => reported.push(reason) });
  for (const junk of [{ v: 2 }, "text", { v: 1, kind: "entry", entry: { key: 5 } }]) {
    await kv.set(cacheMetaKey(slot), junk);
    assert.equal((await store.readMeta(slot)).value, null);
  }
  assert.equal(reported.length, 3);
});

Deno.test("KvStore.acquireLease() lets one holder in until it expires or is released", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new KvStore(kv);
  const slot = await kvSlot("h/lease", "");
  const now = Date.now();
  assert.equal(await store.acquireLease(slot, "a", now, 5000), "a");
  assert.equal(await store.acquireLease(slot, "b", now + 1000, 5000), "a");
  assert.equal(
    await store.acquireLease(slot, "b", now + 6000, 5000),
    "b",
    "expired lease taken over",
  );
  await store.releaseLease(slot, "a"); // not a's any more: no effect
  assert.equal(await store.acquireLease(slot, "c", now + 7000, 5000), "b");
  await store.releaseLease(slot, "b");
  assert.equal(await store.acquireLease(slot, "c", now + 7000, 5000), "c");
});

import assert from "node:assert/strict";
import { cachePurgeHeadKey } from "../../../lib/features/cache/keys.ts";
import { cacheSetup } from "./_setup.ts";

/** A `:memory:` KV that counts reads of the purge log's head (what each purge sync starts with). */
async function countingKv(): Promise<{ kv: Deno.Kv; headReads: () => number; close(): void }> {
  const real = await Deno.openKv(":memory:");
  let reads = 0;
  const head = JSON.stringify(cachePurgeHeadKey());
  const kv = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "get") {
        return (key: Deno.KvKey, options?: { consistency?: Deno.KvConsistencyLevel }) => {
          if (JSON.stringify(key) === head) reads++;
          return target.get(key, options);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv, headReads: () => reads, close: () => real.close() };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(check(), `never: ${what}`);
}

Deno.test("Purger.poll() replays from KV each tick without a watch, rarely with one", async () => {
  const counted = await countingKv();
  try {
    await using s = await cacheSetup({}, { kv: counted.kv });
    const purger = s.e.edge.cache!.purger;
    await purger.poll(60_000);
    await purger.poll(60_000);
    assert.equal(counted.headReads(), 2, "no watch: every tick reads the log's head");

    purger.start(() => {});
    await until("the watch delivers", () => purger.watching);
    await until("the watch's sync", () => counted.headReads() >= 3);
    await purger.sync();
    const base = counted.headReads();
    for (let i = 0; i < 10; i++) {
      s.clock.advance(5_000);
      await purger.poll(60_000);
    }
    assert.equal(counted.headReads(), base, "50 s of ticks with a live watch: no read");
    s.clock.advance(11_000);
    await purger.poll(60_000);
    assert.equal(counted.headReads(), base + 1, "the safety net");
    await purger.close();
    assert.equal(purger.watching, false);
  } finally {
    counted.close();
  }
});

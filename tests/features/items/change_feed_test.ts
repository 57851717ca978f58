import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { silentLogger } from "../../../lib/core/log.ts";
import { MetricsRegistry } from "../../../lib/core/metrics.ts";
import { ChangeFeed } from "../../../lib/features/items/change_feed.ts";
import type { ItemCache } from "../../../lib/features/items/item_cache.ts";
import type { ItemStore } from "../../../lib/features/items/item_store.ts";
import { itemsHeadKey } from "../../../lib/features/items/keys.ts";

/** A feed over a store that only counts how often its change records are listed (KV reads). */
function makeFeed(kv: Deno.Kv, clock: ManualClock) {
  let lists = 0;
  const store = {
    changes(): AsyncIterable<never> {
      lists++;
      return (async function* () {})();
    },
  } as unknown as ItemStore;
  const cache = { invalidate: () => false } as unknown as ItemCache;
  const feed = new ChangeFeed({
    kv,
    store,
    cache,
    clock,
    log: silentLogger,
    metrics: new MetricsRegistry(),
    maxStalenessMs: 2000,
    retentionMs: 600_000,
  });
  return { feed, lists: () => lists };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(check(), `never: ${what}`);
}

Deno.test("ChangeFeed.poll() lists changes every tick without a watch, rarely with one", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(1_000_000);
  const { feed, lists } = makeFeed(kv, clock);
  try {
    // No watch: every tick reads, and the cache is trusted only within the staleness bound.
    await feed.poll(30_000);
    clock.advance(500);
    await feed.poll(30_000);
    assert.equal(lists(), 2);
    assert.equal(feed.healthy(), true);
    clock.advance(2_000);
    assert.equal(feed.healthy(), false, "past the bound without a refresh");

    // A live watch: its first report refreshes; ticks read nothing until the safety net is due.
    feed.start();
    await until("the watch delivers", () => feed.watching);
    await until("the watch's refresh", () => lists() === 3);
    await feed.refresh(); // settles the refresh the watch started
    const base = lists();
    for (let i = 0; i < 50; i++) {
      clock.advance(500);
      await feed.poll(30_000);
    }
    assert.equal(lists(), base + 0, "25 s of ticks, no KV read");
    assert.equal(feed.healthy(), true, "trusted beyond the bound while the watch is live");
    clock.advance(6_000);
    await feed.poll(30_000);
    assert.equal(lists(), base + 1, "the safety net");

    // A write elsewhere reaches the feed through the watch.
    await kv.set(itemsHeadKey(), { at: clock.now(), nonce: "x" });
    await until("the write's refresh", () => lists() === base + 2);

    // Without the watch, the bound applies again.
    feed.stop();
    assert.equal(feed.watching, false);
    clock.advance(2_001);
    assert.equal(feed.healthy(), false);
  } finally {
    feed.stop();
    kv.close();
  }
});

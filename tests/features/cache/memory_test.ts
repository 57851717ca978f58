import assert from "node:assert/strict";
import fc from "fast-check";
import { makeItem, MemoryTier, variantKey } from "../../../lib/features/cache/memory.ts";
import { serveItem } from "../../../lib/features/cache/respond.ts";
import { makeBody, makeEntry } from "./_fixtures.ts";

Deno.test("MemoryTier never holds more bytes than its budget", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1024, max: 256 * 1024 }),
      fc.array(
        fc.record({
          key: fc.integer({ min: 0, max: 40 }),
          size: fc.integer({ min: 0, max: 100_000 }),
          tag: fc.constantFrom("a", "b", "c"),
          op: fc.constantFrom("set", "set", "set", "delete", "tag", "vary"),
        }),
        { maxLength: 200 },
      ),
      (budget, ops) => {
        const tier = new MemoryTier({ maxBytes: budget });
        for (const o of ops) {
          const key = `h/${o.key}`;
          if (o.op === "set") {
            tier.setEntry(makeItem(makeEntry(key, o.size, { tags: [o.tag] }), makeBody(o.size)));
          } else if (o.op === "delete") tier.deleteUrl(key);
          else if (o.op === "tag") tier.deleteTag(o.tag);
          else tier.setVary(key, ["accept"]);
          assert.ok(tier.bytes <= budget, `${tier.bytes} > ${budget}`);
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("MemoryTier drops by URL (all variants) and by tag", async (t) => {
  const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
  tier.setVary("h/a", ["accept-language"]);
  tier.setEntry(makeItem(makeEntry("h/a", 10, { variant: "en", tags: ["t1"] }), makeBody(10)));
  tier.setEntry(makeItem(makeEntry("h/a", 10, { variant: "fr", tags: ["t2"] }), makeBody(10)));
  tier.setEntry(makeItem(makeEntry("h/b", 10, { tags: ["t1", "t2"] }), makeBody(10)));
  await t.step("by tag", () => {
    assert.equal(tier.deleteTag("t1"), 2);
    assert.equal(tier.get(variantKey("h/a", "en")), undefined);
    assert.ok(tier.get(variantKey("h/a", "fr")));
    assert.equal(tier.get("h/b"), undefined);
  });
  await t.step("by URL", () => {
    assert.equal(tier.deleteUrl("h/a"), 2); // the marker and the fr variant
    assert.equal(tier.count, 0);
    assert.equal(tier.deleteTag("t2"), 0);
  });
  await t.step("replacing an entry re-indexes its tags", () => {
    tier.setEntry(makeItem(makeEntry("h/c", 10, { tags: ["old"] }), makeBody(10)));
    tier.setEntry(makeItem(makeEntry("h/c", 10, { tags: ["new"] }), makeBody(10)));
    assert.equal(tier.deleteTag("old"), 0);
    assert.equal(tier.deleteTag("new"), 1);
  });
  await t.step(
    "an entry larger than the per-entry limit is refused and an old copy dropped",
    () => {
      const small = new MemoryTier({ maxBytes: 8192, maxEntryBytes: 4096 });
      assert.equal(small.setEntry(makeItem(makeEntry("h/d", 10), makeBody(10))), true);
      assert.equal(small.setEntry(makeItem(makeEntry("h/d", 5000), makeBody(5000))), false);
      assert.equal(small.get("h/d"), undefined);
    },
  );
  await t.step("a zero budget disables the tier", () => {
    const off = new MemoryTier({ maxBytes: 0 });
    assert.equal(off.setEntry(makeItem(makeEntry("h/e", 1), makeBody(1))), false);
    assert.equal(off.count, 0);
  });
});

Deno.test("makeItem() keeps UTF-8 bodies as strings and binary as bytes", () => {
  const text = makeItem(makeEntry("h/t", 5), new TextEncoder().encode("héllo"));
  assert.equal(text.body, "héllo");
  const bom = makeItem(makeEntry("h/t", 4), new Uint8Array([0xef, 0xbb, 0xbf, 0x41]));
  assert.equal(new TextEncoder().encode(bom.body as string).length, 4, "BOM kept");
  const bin = makeItem(makeEntry("h/b", 2), new Uint8Array([0xff, 0xfe]));
  assert.ok(bin.body instanceof Uint8Array);
  assert.equal(text.contentType, "text/plain");
  assert.equal(text.etag, '"e1"');
});

Deno.test("serveItem() answers every hit with its own fields and the whole body", async () => {
  for (const body of [new TextEncoder().encode("héllo"), makeBody(70_000)]) {
    const item = makeItem(makeEntry("h/t", body.length), body);
    for (let hit = 1; hit <= 3; hit++) {
      const res = serveItem(item, {
        head: false,
        ageSeconds: hit,
        cacheStatus: `Outpost; hit; ttl=${60 - hit}`,
        outcome: "HIT",
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("age"), String(hit), "age is this hit's, not a list");
      assert.equal(res.headers.get("cache-status"), `Outpost; hit; ttl=${60 - hit}`);
      assert.equal(res.headers.get("x-cache"), "HIT");
      assert.equal(res.headers.get("etag"), '"e1"');
      assert.equal(res.headers.get("content-type"), "text/plain");
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), body);
    }
    const head = serveItem(item, { head: true, ageSeconds: 4, cacheStatus: "x", outcome: "HIT" });
    assert.equal(head.body, null);
    assert.equal(head.headers.get("content-length"), String(body.length));
    assert.equal(head.headers.get("age"), "4");
  }
});

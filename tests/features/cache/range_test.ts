import assert from "node:assert/strict";
import fc from "fast-check";
import { makeItem } from "../../../lib/features/cache/memory.ts";
import { ifRangeHolds, parseRange } from "../../../lib/features/cache/respond.ts";
import { cacheSetup } from "./_setup.ts";
import { makeBody, makeEntry } from "./_fixtures.ts";

Deno.test("parseRange() reads one byte range (RFC 9110 §14.1.2)", () => {
  const cases: [string, number, ReturnType<typeof parseRange>][] = [
    ["bytes=0-9", 100, { start: 0, end: 9 }],
    ["bytes=90-", 100, { start: 90, end: 99 }],
    ["bytes=90-500", 100, { start: 90, end: 99 }],
    ["bytes=-10", 100, { start: 90, end: 99 }],
    ["bytes=-500", 100, { start: 0, end: 99 }],
    ["Bytes = 5-5", 100, { start: 5, end: 5 }],
    ["bytes=0-0,", 100, { start: 0, end: 0 }],
    ["bytes=100-", 100, "unsatisfiable"],
    ["bytes=100-200", 100, "unsatisfiable"],
    ["bytes=-0", 100, "unsatisfiable"],
    ["bytes=0-", 0, "unsatisfiable"],
    ["bytes=-5", 0, "unsatisfiable"],
    ["bytes=9-0", 100, null], // invalid: ignored
    ["bytes=0-1,5-6", 100, null], // several ranges: the whole response
    ["bytes=-", 100, null],
    ["bytes=a-b", 100, null],
    ["bytes=1.5-2", 100, null],
    ["items=0-9", 100, null],
    ["bytes", 100, null],
    ["bytes=", 100, null],
    ["bytes=0-9999999999999999", 100, null], // more digits than any size
  ];
  for (const [value, size, want] of cases) {
    assert.deepEqual(parseRange(value, size), want, `${value} of ${size}`);
  }
});

Deno.test("parseRange() ranges always lie inside the representation", () => {
  fc.assert(
    fc.property(
      fc.nat(1_000_000),
      fc.option(fc.nat(2_000_000), { nil: undefined }),
      fc.option(fc.nat(2_000_000), { nil: undefined }),
      (size, first, last) => {
        if (first === undefined && last === undefined) return true;
        const spec = `bytes=${first ?? ""}-${last ?? ""}`;
        const got = parseRange(spec, size);
        if (got === null) return first !== undefined && last !== undefined && last < first;
        if (got === "unsatisfiable") {
          return size === 0 || (first === undefined ? last === 0 : first >= size);
        }
        return 0 <= got.start && got.start <= got.end && got.end < size &&
          (first === undefined ? got.end === size - 1 : got.start === first);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("ifRangeHolds() compares entity-tags strongly and dates exactly", () => {
  const lm = "Thu, 26 Nov 2026 15:31:40 GMT";
  const item = makeItem(
    makeEntry("h/r", 4, { headers: [["etag", '"v1"'], ["last-modified", lm]] }),
    makeBody(4),
  );
  const weak = makeItem(makeEntry("h/w", 4, { headers: [["etag", 'W/"v1"']] }), makeBody(4));
  assert.equal(ifRangeHolds(null, item), true);
  assert.equal(ifRangeHolds('"v1"', item), true);
  assert.equal(ifRangeHolds('"v2"', item), false);
  assert.equal(ifRangeHolds('W/"v1"', item), false, "a weak tag never matches");
  assert.equal(ifRangeHolds('"v1"', weak), false, "nor does a stored weak tag");
  assert.equal(ifRangeHolds(lm, item), true);
  assert.equal(ifRangeHolds("Thu, 26 Nov 2026 15:31:41 GMT", item), false);
  assert.equal(ifRangeHolds("not a date", item), false);
  assert.equal(ifRangeHolds(lm, weak), false, "no Last-Modified stored");
});

Deno.test("EdgeCache cuts byte ranges from stored responses", async (t) => {
  await using s = await cacheSetup();
  const path = "/cacheable/file?size=1000";
  const range = (value: string, headers: Record<string, string> = {}) =>
    fetch(`${s.e.url}${path}`, { headers: { range: value, ...headers } });

  await t.step("a range of an unstored response goes to the origin as it is", async () => {
    const res = await range("bytes=0-9");
    assert.equal(res.headers.get("x-cache"), "BYPASS");
    assert.equal(res.headers.get("cache-status"), "Outpost; fwd=bypass; detail=range");
    await res.body?.cancel();
  });

  const full = await s.get(path);
  assert.equal(full.res.headers.get("x-cache"), "MISS");
  const whole = new TextEncoder().encode(full.text);
  assert.equal(whole.length, 1000);
  await s.settled();
  const etag = full.res.headers.get("etag")!;

  await t.step("206 with Content-Range, from the cache", async () => {
    for (const [value, start, end] of [["bytes=0-9", 0, 9], ["bytes=990-", 990, 999]] as const) {
      const res = await range(value);
      assert.equal(res.status, 206, value);
      assert.equal(res.headers.get("x-cache"), "HIT");
      assert.equal(res.headers.get("content-range"), `bytes ${start}-${end}/1000`);
      assert.equal(res.headers.get("content-length"), String(end - start + 1));
      assert.equal(res.headers.get("etag"), etag);
      assert.equal(res.headers.get("content-type"), "application/octet-stream");
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), whole.subarray(start, end + 1));
    }
    const suffix = await range("bytes=-1");
    assert.equal(suffix.headers.get("content-range"), "bytes 999-999/1000");
    await suffix.body?.cancel();
  });

  await t.step("past the end: 416 problem with the size", async () => {
    const res = await range("bytes=1000-");
    assert.equal(res.status, 416);
    assert.equal(res.headers.get("content-range"), "bytes */1000");
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const body = await res.json();
    assert.equal(body.code, "range_not_satisfiable");
    assert.match(body.detail, /1000-byte/);
  });

  await t.step(
    "If-Range that no longer matches, several ranges, HEAD: the whole response",
    async () => {
      const stale = await range("bytes=0-9", { "if-range": '"old"' });
      assert.equal(stale.status, 200);
      assert.equal((await stale.arrayBuffer()).byteLength, 1000);
      const matching = await range("bytes=0-9", { "if-range": etag });
      assert.equal(matching.status, 206);
      await matching.body?.cancel();
      const several = await range("bytes=0-1,5-6");
      assert.equal(several.status, 200);
      assert.equal((await several.arrayBuffer()).byteLength, 1000);
      const head = await fetch(`${s.e.url}${path}`, {
        method: "HEAD",
        headers: { range: "bytes=0-9" },
      });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), "1000");
    },
  );

  await t.step("validators that match win over the range: 304", async () => {
    const res = await range("bytes=0-9", { "if-none-match": etag });
    assert.equal(res.status, 304);
  });

  await t.step("a stale entry's range is served while it revalidates", async () => {
    s.clock.advance(70_000); // max-age 60 s, stale-while-revalidate 30 s
    const res = await range("bytes=10-19");
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("x-cache"), "STALE");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), whole.subarray(10, 20));
    await s.settled();
  });
  assert.equal(s.origin.count("/cacheable/file"), 3, "the bypass, the fill, the revalidation");
});

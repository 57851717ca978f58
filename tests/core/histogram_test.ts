import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BUCKET_COUNT,
  bucketHigh,
  bucketIndex,
  bucketLow,
  LatencyHistogram,
  MAX_MICROS,
  RELATIVE_ERROR,
  toMicros,
} from "../../lib/core/histogram.ts";

/** Nearest-rank percentile of exact data (what the histogram approximates). */
function exactPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

function histogramOf(values: number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);
  return h;
}

/** The reported value is the bucket's top: never below the truth, at most 1/128 above. */
function assertClose(actualMs: number | null, exactMs: number, what: string): void {
  assert.ok(actualMs !== null, what);
  const exactUs = toMicros(exactMs);
  const tolerance = Math.max(1, exactUs * RELATIVE_ERROR) / 1000;
  assert.ok(
    actualMs >= exactUs / 1000 && actualMs <= exactUs / 1000 + tolerance,
    `${what}: ${actualMs} vs exact ${exactMs}`,
  );
}

Deno.test("bucketIndex() lays buckets out contiguously with bounded width", async (t) => {
  await t.step("every bucket's bounds map back to it, and buckets tile the range", () => {
    assert.equal(bucketIndex(0), 0);
    assert.equal(bucketIndex(MAX_MICROS), BUCKET_COUNT - 1);
    for (let i = 0; i < BUCKET_COUNT; i++) {
      assert.equal(bucketIndex(bucketLow(i)), i, `low of ${i}`);
      assert.equal(bucketIndex(bucketHigh(i)), i, `high of ${i}`);
      if (i > 0) assert.equal(bucketLow(i), bucketHigh(i - 1) + 1, `gap before ${i}`);
    }
  });
  await t.step("a bucket is at most 1/128 of its values wide (exact below 256 µs)", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: MAX_MICROS }), (us) => {
      const i = bucketIndex(us);
      const low = bucketLow(i), high = bucketHigh(i);
      assert.ok(low <= us && us <= high);
      if (us < 256) assert.equal(low, high);
      else assert.ok((high - low + 1) / low <= RELATIVE_ERROR);
    }));
  });
});

Deno.test("LatencyHistogram.percentile() matches exact percentiles on known data", async (t) => {
  await t.step("1..1000 ms in steps of 1 ms", () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    const h = histogramOf(values);
    for (const p of [1, 10, 50, 90, 95, 99, 99.9, 100]) {
      assertClose(h.percentile(p), exactPercentile(values, p), `p${p}`);
    }
    assert.equal(h.count, 1000);
    assert.ok(Math.abs(h.mean()! - 500.5) < 1e-9);
  });
  await t.step("sub-millisecond values are exact to the microsecond", () => {
    const h = histogramOf([0.05, 0.1, 0.2, 0.25]);
    assert.equal(h.percentile(50), 0.1);
    assert.equal(h.percentile(100), 0.25);
  });
  await t.step("a skewed mix: 990 fast requests and 10 slow ones", () => {
    const values = [...Array(990).fill(2), ...Array(10).fill(800)];
    const h = histogramOf(values);
    assertClose(h.percentile(99), 2, "p99");
    assertClose(h.percentile(99.1), 800, "p99.1");
  });
  await t.step("random data (property)", () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0, max: 60_000, noNaN: true }), { minLength: 1, maxLength: 300 }),
      fc.constantFrom(50, 90, 95, 99, 100),
      (values, p) =>
        assertClose(histogramOf(values).percentile(p), exactPercentile(values, p), `p${p}`),
    ));
  });
  await t.step("empty: null; huge values are clamped, not lost", () => {
    const h = new LatencyHistogram();
    assert.equal(h.percentile(99), null);
    assert.equal(h.mean(), null);
    h.record(1e12);
    h.record(-5);
    h.record(Number.NaN);
    assert.equal(h.count, 3);
    assert.equal(h.percentile(100), MAX_MICROS / 1000);
    assert.equal(h.percentile(1), 0);
  });
});

Deno.test("LatencyHistogram add, subtract and encode are exact (laws)", async (t) => {
  const data = fc.array(fc.double({ min: 0, max: 10_000, noNaN: true }), { maxLength: 200 });
  await t.step("merging equals recording the union; percentiles come from the merge", () => {
    fc.assert(fc.property(data, data, (a, b) => {
      const merged = histogramOf(a);
      merged.add(histogramOf(b));
      const union = histogramOf([...a, ...b]);
      assert.deepEqual(merged.counts, union.counts);
      assert.equal(merged.count, union.count);
      assert.equal(merged.percentile(99), union.percentile(99));
    }));
  });
  await t.step("subtract undoes add", () => {
    fc.assert(fc.property(data, data, (a, b) => {
      const h = histogramOf(a);
      const hb = histogramOf(b);
      h.add(hb);
      h.subtract(hb);
      assert.deepEqual(h.counts, histogramOf(a).counts);
      assert.deepEqual(h.groups, histogramOf(a).groups);
      assert.equal(h.count, a.length);
    }));
  });
  await t.step("encode then addEncoded round-trips", () => {
    fc.assert(fc.property(data, (a) => {
      const h = histogramOf(a);
      const back = new LatencyHistogram();
      back.addEncoded(h.encode(), h.sumMicros, h.maxMicros);
      assert.deepEqual(back.counts, h.counts);
      assert.equal(back.percentile(99), h.percentile(99));
      assert.equal(back.maxMicros, h.maxMicros);
    }));
  });
  await t.step("malformed encodings are refused without changing the histogram", () => {
    const h = histogramOf([1, 2, 3]);
    for (const bad of [[1], [0, 1], [1, 0], [1, -1], [BUCKET_COUNT + 1, 1], [1.5, 1], [1, 2.5]]) {
      assert.throws(() => h.addEncoded(bad), RangeError, JSON.stringify(bad));
    }
    assert.throws(() => h.addEncoded([1, 1], Number.NaN), RangeError);
    assert.equal(h.count, 3);
  });
});

Deno.test("LatencyHistogram.countAtOrBelow() counts whole buckets under a bound", () => {
  const h = histogramOf([0.1, 0.5, 0.999, 2, 5, 10]);
  assert.equal(h.countAtOrBelow(999), 3);
  assert.equal(h.countAtOrBelow(1000), 3);
  // 1.5 ms shares its bucket (1496–1503 µs) with values above the bound: it counts one up.
  h.record(1.5);
  assert.equal(h.countAtOrBelow(1500), 3);
  assert.equal(h.countAtOrBelow(1503), 4);
  assert.equal(h.countAtOrBelow(MAX_MICROS), 7);
});

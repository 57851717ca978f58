import assert from "node:assert/strict";
import fc from "fast-check";
import { bucketIndex, LatencyHistogram, toMicros } from "../../../lib/core/histogram.ts";
import { Field, SlidingWindow } from "../../../lib/features/monitoring/window.ts";

const T0 = Date.UTC(2026, 0, 1);
const ERR = 1 << Field.errors;

Deno.test("SlidingWindow keeps the last N slots and forgets older ones", async (t) => {
  await t.step("records add up in the total until their slot leaves", () => {
    const w = new SlidingWindow({ windowMs: 30_000, slotMs: 10_000 });
    w.record(T0, 5, 0);
    w.record(T0 + 1000, 7, ERR);
    w.record(T0 + 10_000, 9, 0);
    let total = w.total(T0 + 10_000);
    assert.equal(total.counts[Field.requests], 3);
    assert.equal(total.counts[Field.errors], 1);
    assert.equal(total.latency.count, 3);
    // Slot 0 is still in the window (3 slots: 0, 1, 2) ...
    total = w.total(T0 + 29_999);
    assert.equal(total.counts[Field.requests], 3);
    // ... and leaves when slot 3 starts.
    total = w.total(T0 + 30_000);
    assert.equal(total.counts[Field.requests], 1);
    assert.equal(total.counts[Field.errors], 0);
    assert.equal(total.latency.percentile(100), 9);
    assert.equal(w.lifetime[Field.requests], 3, "lifetime counts never expire");
  });
  await t.step("a long quiet spell empties it", () => {
    const w = new SlidingWindow({ windowMs: 30_000, slotMs: 10_000 });
    w.record(T0, 5, ERR);
    assert.equal(w.total(T0 + 3_600_000).counts[Field.requests], 0);
    assert.equal(w.total(T0 + 3_600_000).latency.count, 0);
  });
  await t.step("a clock stepping backwards writes into the newest slot", () => {
    const w = new SlidingWindow({ windowMs: 30_000, slotMs: 10_000 });
    w.record(T0 + 20_000, 5, 0);
    w.record(T0, 6, 0);
    assert.equal(w.total(T0 + 20_000).counts[Field.requests], 2);
    assert.equal(w.total(T0 + 50_000).counts[Field.requests], 0);
  });
  await t.step("series() lists requests and errors per slot, oldest first", () => {
    const w = new SlidingWindow({ windowMs: 30_000, slotMs: 10_000 });
    w.record(T0, 1, 0);
    w.record(T0 + 20_000, 1, ERR);
    w.record(T0 + 20_001, 1, 0);
    const s = w.series(T0 + 25_000);
    assert.equal(s.firstEpoch, T0 / 10_000);
    assert.deepEqual(s.requests, [1, 0, 2]);
    assert.deepEqual(s.errors, [0, 0, 1]);
  });
  await t.step("bad shapes are refused", () => {
    assert.throws(() => new SlidingWindow({ windowMs: 25_000, slotMs: 10_000 }), RangeError);
    assert.throws(() => new SlidingWindow({ windowMs: 10_000, slotMs: 10 }), RangeError);
  });
});

Deno.test("SlidingWindow total equals the records of the live slots (model)", () => {
  const slotMs = 1000, slots = 5;
  const op = fc.record({
    advance: fc.integer({ min: 0, max: 3000 }),
    ms: fc.double({ min: 0, max: 5000, noNaN: true }),
    error: fc.boolean(),
  });
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const w = new SlidingWindow({ windowMs: slotMs * slots, slotMs });
    const log: Array<{ at: number; ms: number; error: boolean }> = [];
    let now = T0;
    for (const o of ops) {
      now += o.advance;
      w.record(now, o.ms, o.error ? ERR : 0);
      log.push({ at: now, ms: o.ms, error: o.error });
    }
    const oldest = (Math.floor(now / slotMs) - slots + 1) * slotMs;
    const live = log.filter((r) => r.at >= oldest);
    const total = w.total(now);
    assert.equal(total.counts[Field.requests], live.length);
    assert.equal(total.counts[Field.errors], live.filter((r) => r.error).length);
    const expected = new LatencyHistogram();
    for (const r of live) expected.record(r.ms);
    assert.deepEqual(total.latency.counts, expected.counts);
    // Same bucket (the reported top may differ: the window only bounds its maximum).
    const p99 = total.latency.percentile(99), exact = expected.percentile(99);
    assert.equal(p99 === null, exact === null);
    if (p99 !== null && exact !== null) {
      assert.equal(bucketIndex(toMicros(p99)), bucketIndex(toMicros(exact)));
    }
  }));
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../../../lib/core/clock.ts";
import {
  ClockDriftError,
  compareHlc,
  hlcNext,
  hlcObserve,
  type HlcTimestamp,
  HybridClock,
} from "../../../lib/features/crdt/hlc.ts";
import {
  canonicalJson,
  lwwMerge,
  type LwwRegister,
  lwwSet,
} from "../../../lib/features/crdt/lww.ts";

const ts: fc.Arbitrary<HlcTimestamp> = fc.record({
  wall: fc.integer({ min: 0, max: 50 }),
  logical: fc.nat(3),
  replica: fc.constantFrom("a", "b", "c"),
});
const register: fc.Arbitrary<LwwRegister | null> = fc.option(
  fc.record({ value: fc.jsonValue(), ts }),
  { nil: null },
);

function same(a: LwwRegister | null, b: LwwRegister | null): boolean {
  if (a === null || b === null) return a === b;
  return compareHlc(a.ts, b.ts) === 0 && canonicalJson(a.value) === canonicalJson(b.value);
}

Deno.test("lwwMerge() is commutative, associative and idempotent", () => {
  fc.assert(
    fc.property(register, register, register, (a, b, c) => {
      assert.ok(same(lwwMerge(a, b), lwwMerge(b, a)));
      assert.ok(same(lwwMerge(lwwMerge(a, b), c), lwwMerge(a, lwwMerge(b, c))));
      assert.ok(same(lwwMerge(a, a), a));
    }),
    { numRuns: 500 },
  );
});

Deno.test("lwwMerge() keeps the later write; the delta is the new register", () => {
  fc.assert(fc.property(register, fc.jsonValue(), (reg, value) => {
    const later = reg === null
      ? { wall: 1, logical: 0, replica: "a" }
      : hlcNext(reg.ts, reg.ts.wall, "a");
    const { state, delta } = lwwSet(reg, value, later);
    assert.ok(same(lwwMerge(reg, delta), state));
    assert.ok(same(lwwMerge(delta, reg), state));
  }));
  assert.throws(
    () =>
      lwwSet({ value: 1, ts: { wall: 5, logical: 0, replica: "b" } }, 2, {
        wall: 5,
        logical: 0,
        replica: "a",
      }),
    RangeError,
  );
});

Deno.test("hlcNext() and hlcObserve() never go backwards and order after what was seen", () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.boolean(), ts, fc.integer({ min: 0, max: 60 })), { maxLength: 40 }),
    (events) => {
      let last: HlcTimestamp | null = null;
      for (const [receive, remote, physical] of events) {
        const next: HlcTimestamp = receive
          ? hlcObserve(last, remote, physical, "me")
          : hlcNext(last, physical, "me");
        if (last) assert.ok(compareHlc(next, last) > 0);
        if (receive) assert.ok(compareHlc(next, remote) > 0 || remote.replica > "me");
        assert.ok(next.wall >= physical);
        last = next;
      }
    },
  ));
});

Deno.test("HybridClock orders a write after a remote one even when its clock is behind", async (t) => {
  const clock = new ManualClock(1_000_000);
  const hlc = new HybridClock("slow", clock, 60_000);
  await t.step("follows physical time when it moves", () => {
    const a = hlc.now();
    clock.advance(5);
    const b = hlc.now();
    assert.deepEqual([a.wall, a.logical, b.wall, b.logical], [1_000_000, 0, 1_000_005, 0]);
  });
  await t.step("a remote timestamp 30 s ahead is observed; the next local one is after it", () => {
    const remote = { wall: 1_030_000, logical: 7, replica: "fast" };
    hlc.checkDrift(remote);
    hlc.observe(remote);
    const mine = hlc.now();
    assert.ok(compareHlc(mine, remote) > 0);
    assert.equal(mine.wall, 1_030_000);
  });
  await t.step("a timestamp beyond the drift bound is refused", () => {
    assert.throws(
      () => hlc.checkDrift({ wall: 1_000_005 + 61_000, logical: 0, replica: "x" }),
      ClockDriftError,
    );
  });
});

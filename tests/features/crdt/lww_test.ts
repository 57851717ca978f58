import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../../../lib/core/clock.ts";
import {
  ClockDriftError,
  compareHlc,
  type HlcTimestamp,
  HybridClock,
} from "../../../lib/features/crdt/hlc.ts";
import { lwwMerge, type LwwRegister, lwwSet } from "../../../lib/features/crdt/lww.ts";

const ts: fc.Arbitrary<HlcTimestamp> = fc.record({
  wall: fc.integer({ min: 0, max: 50 }),
  logical: fc.nat(3),
  replica: fc.constantFrom("a", "b", "c"),
});
const register: fc.Arbitrary<LwwRegister | null> = fc.option(
  fc.record({ value: fc.jsonValue(), ts }),
  { nil: null },
);

/** JSON text with object keys sorted: equal for values the register cannot tell apart. */
function text(value: unknown): string {
  return JSON.stringify(
    value,
    (_, v) =>
      v !== null && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => x < y ? -1 : x > y ? 1 : 0))
        : v,
  );
}

function same(a: LwwRegister | null, b: LwwRegister | null): boolean {
  if (a === null || b === null) return a === b;
  return compareHlc(a.ts, b.ts) === 0 && text(a.value) === text(b.value);
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
      : { wall: reg.ts.wall, logical: reg.ts.logical + 1, replica: "a" };
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

Deno.test("HybridClock never goes backwards and orders after what it observed", () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.boolean(), ts, fc.integer({ min: 0, max: 60 })), { maxLength: 40 }),
    (events) => {
      // The physical clock jumps back and forth; the hybrid one must not.
      const clock = new ManualClock(0);
      const hlc = new HybridClock("me", clock);
      let last: HlcTimestamp | null = null;
      const observed: HlcTimestamp[] = [];
      for (const [receive, remote, physical] of events) {
        clock.set(physical);
        if (receive) {
          hlc.observe(remote);
          observed.push(remote);
          continue;
        }
        const next = hlc.now();
        if (last) assert.ok(compareHlc(next, last) > 0);
        for (const seen of observed) assert.ok(compareHlc(next, seen) > 0);
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

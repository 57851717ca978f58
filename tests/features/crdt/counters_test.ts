import assert from "node:assert/strict";
import fc from "fast-check";
import {
  EMPTY_GCOUNTER,
  gcounterIncrement,
  gcounterValue,
} from "../../../lib/features/crdt/gcounter.ts";
import {
  EMPTY_PNCOUNTER,
  pncounterDecrement,
  pncounterIncrement,
  pncounterReplicas,
  pncounterValue,
} from "../../../lib/features/crdt/pncounter.ts";
import { pncounter, REPLICAS } from "./_arbitraries.ts";

Deno.test("gcounterIncrement() adds to one replica's count", async (t) => {
  await t.step("the value grows by the increment, the delta carries the new count", () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.constantFrom(...REPLICAS), fc.integer({ min: 1, max: 50 })), {
        maxLength: 20,
      }),
      (ops) => {
        let state = EMPTY_GCOUNTER;
        for (const [r, by] of ops) {
          const m = gcounterIncrement(state, r, by);
          assert.equal(gcounterValue(m.state), gcounterValue(state) + by);
          assert.deepEqual([...m.delta.counts], [[r, m.state.counts.get(r)]]);
          state = m.state;
        }
      },
    ));
  });
  await t.step("bad increments are refused", () => {
    for (const by of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      assert.throws(() => gcounterIncrement(EMPTY_GCOUNTER, "a", by), RangeError);
    }
    const near = gcounterIncrement(EMPTY_GCOUNTER, "a", Number.MAX_SAFE_INTEGER - 1).state;
    assert.throws(() => gcounterIncrement(near, "a", 2), /overflow/);
  });
});

Deno.test("pncounterValue() counts every increment and decrement once", () => {
  fc.assert(fc.property(
    fc.array(
      fc.tuple(fc.nat(2), fc.boolean(), fc.integer({ min: 1, max: 100 })),
      { maxLength: 30 },
    ),
    (ops) => {
      let counter = EMPTY_PNCOUNTER;
      let expected = 0;
      for (const [r, up, by] of ops) {
        counter = (up ? pncounterIncrement : pncounterDecrement)(counter, REPLICAS[r], by).state;
        expected += up ? by : -by;
      }
      assert.equal(pncounterValue(counter), expected);
    },
  ));
});

Deno.test("pncounterReplicas() lists each replica's increments and decrements", () => {
  let c = pncounterIncrement(EMPTY_PNCOUNTER, "b", 5).state;
  c = pncounterDecrement(c, "a", 2).state;
  assert.deepEqual(pncounterReplicas(c), { a: { p: 0, n: 2 }, b: { p: 5, n: 0 } });
  assert.equal(pncounterValue(c), 3);
  fc.assert(fc.property(pncounter, (counter) => {
    const replicas = Object.values(pncounterReplicas(counter));
    assert.equal(replicas.reduce((sum, { p, n }) => sum + p - n, 0), pncounterValue(counter));
  }));
});

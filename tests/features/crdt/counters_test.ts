import assert from "node:assert/strict";
import fc from "fast-check";
import {
  EMPTY_GCOUNTER,
  type GCounter,
  gcounterDelta,
  gcounterEquals,
  gcounterFrom,
  gcounterIncludes,
  gcounterIncrement,
  gcounterMerge,
  gcounterValue,
} from "../../../lib/features/crdt/gcounter.ts";
import {
  EMPTY_PNCOUNTER,
  pncounterDecrement,
  pncounterDelta,
  pncounterEquals,
  pncounterIncrement,
  pncounterMerge,
  pncounterReplicas,
  pncounterValue,
} from "../../../lib/features/crdt/pncounter.ts";
import { pncounterTriple, REPLICAS } from "./_arbitraries.ts";

const gcounter: fc.Arbitrary<GCounter> = fc.dictionary(
  fc.constantFrom(...REPLICAS, "d", "e"),
  fc.nat({ max: 1_000_000 }),
).map((d) => gcounterFrom(Object.entries(d)));

Deno.test("gcounterMerge() is commutative, associative and idempotent", () => {
  fc.assert(fc.property(gcounter, gcounter, gcounter, (a, b, c) => {
    assert.ok(gcounterEquals(gcounterMerge(a, b), gcounterMerge(b, a)));
    assert.ok(
      gcounterEquals(gcounterMerge(gcounterMerge(a, b), c), gcounterMerge(a, gcounterMerge(b, c))),
    );
    assert.ok(gcounterEquals(gcounterMerge(a, a), a));
  }));
});

Deno.test("gcounterValue() is monotone under increments and merges", () => {
  fc.assert(fc.property(
    gcounter,
    gcounter,
    fc.constantFrom(...REPLICAS),
    fc.integer({ min: 1, max: 1000 }),
    (a, b, r, by) => {
      const merged = gcounterMerge(a, b);
      assert.ok(gcounterValue(merged) >= Math.max(gcounterValue(a), gcounterValue(b)));
      assert.ok(gcounterIncludes(merged, a) && gcounterIncludes(merged, b));
      const { state } = gcounterIncrement(a, r, by);
      assert.equal(gcounterValue(state), gcounterValue(a) + by);
    },
  ));
});

Deno.test("gcounterDelta() merged into what the peer knows equals a full merge", () => {
  fc.assert(fc.property(gcounter, gcounter, (mine, known) => {
    const delta = gcounterDelta(mine, known);
    assert.ok(gcounterEquals(gcounterMerge(known, delta), gcounterMerge(known, mine)));
    // The delta carries only what the peer lacks.
    for (const [r, n] of delta.counts) assert.ok(n > (known.counts.get(r) ?? 0));
  }));
});

Deno.test("gcounterIncrement() returns a delta that equals the changed slot", async (t) => {
  await t.step("deltas applied in any order, duplicated, equal the full state", () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.constantFrom(...REPLICAS), fc.integer({ min: 1, max: 50 })), {
        maxLength: 20,
      }),
      fc.infiniteStream(fc.nat()),
      (ops, order) => {
        let state = EMPTY_GCOUNTER;
        const deltas: GCounter[] = [];
        for (const [r, by] of ops) {
          const m = gcounterIncrement(state, r, by);
          state = m.state;
          deltas.push(m.delta);
        }
        const shuffled = [...deltas, ...deltas].map((d) => [order.next().value, d] as const)
          .sort((x, y) => x[0] - y[0]).map(([, d]) => d);
        const folded = shuffled.reduce(gcounterMerge, EMPTY_GCOUNTER);
        assert.ok(gcounterEquals(folded, state));
      },
    ));
  });
  await t.step("bad increments are refused", () => {
    for (const by of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      assert.throws(() => gcounterIncrement(EMPTY_GCOUNTER, "a", by), RangeError);
    }
    const near = gcounterFrom([["a", Number.MAX_SAFE_INTEGER - 1]]);
    assert.throws(() => gcounterIncrement(near, "a", 2), /overflow/);
  });
});

Deno.test("pncounterMerge() is commutative, associative and idempotent", () => {
  fc.assert(fc.property(pncounterTriple, ([a, b, c]) => {
    assert.ok(pncounterEquals(pncounterMerge(a, b), pncounterMerge(b, a)));
    assert.ok(
      pncounterEquals(
        pncounterMerge(pncounterMerge(a, b), c),
        pncounterMerge(a, pncounterMerge(b, c)),
      ),
    );
    assert.ok(pncounterEquals(pncounterMerge(a, a), a));
  }));
});

Deno.test("pncounterValue() counts every increment and decrement once after merging", () => {
  fc.assert(fc.property(
    fc.array(
      fc.tuple(fc.nat(2), fc.boolean(), fc.integer({ min: 1, max: 100 })),
      { maxLength: 30 },
    ),
    (ops) => {
      const replicas = [EMPTY_PNCOUNTER, EMPTY_PNCOUNTER, EMPTY_PNCOUNTER];
      let expected = 0;
      for (const [r, up, by] of ops) {
        const m = up
          ? pncounterIncrement(replicas[r], REPLICAS[r], by)
          : pncounterDecrement(replicas[r], REPLICAS[r], by);
        replicas[r] = m.state;
        expected += up ? by : -by;
      }
      const all = replicas.reduce(pncounterMerge);
      assert.equal(pncounterValue(all), expected);
      // Merging again (a duplicated message) changes nothing.
      assert.equal(pncounterValue(pncounterMerge(all, replicas[0])), expected);
    },
  ));
});

Deno.test("pncounterDelta() merged into what the peer knows equals a full merge", () => {
  fc.assert(fc.property(pncounterTriple, ([mine, known]) => {
    const delta = pncounterDelta(mine, known);
    assert.ok(pncounterEquals(pncounterMerge(known, delta), pncounterMerge(known, mine)));
  }));
});

Deno.test("pncounterReplicas() lists each replica's increments and decrements", () => {
  let c = pncounterIncrement(EMPTY_PNCOUNTER, "b", 5).state;
  c = pncounterDecrement(c, "a", 2).state;
  assert.deepEqual(pncounterReplicas(c), { a: { p: 0, n: 2 }, b: { p: 5, n: 0 } });
  assert.equal(pncounterValue(c), 3);
});

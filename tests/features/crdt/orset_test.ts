import assert from "node:assert/strict";
import fc from "fast-check";
import {
  EMPTY_ORSET,
  type OrSet,
  orsetAdd,
  orsetJoinDeltas,
  orsetMerge,
  orsetRemove,
} from "../../../lib/features/crdt/orset.ts";
import { orsetElements, orsetEquals, orsetHas } from "./_sets.ts";
import { ELEMENTS, orsetTriple, REPLICAS, runSetHistory, setStep } from "./_arbitraries.ts";

Deno.test("orsetMerge() is commutative, associative and idempotent", () => {
  fc.assert(
    fc.property(orsetTriple, ([a, b, c]) => {
      assert.ok(orsetEquals(orsetMerge(a, b), orsetMerge(b, a)));
      assert.ok(orsetEquals(orsetMerge(orsetMerge(a, b), c), orsetMerge(a, orsetMerge(b, c))));
      assert.ok(orsetEquals(orsetMerge(a, a), a));
    }),
    { numRuns: 300 },
  );
});

Deno.test("orsetMerge() lets a concurrent add win over a remove", async (t) => {
  await t.step("add and remove of a shared element, concurrently", () => {
    fc.assert(fc.property(orsetTriple, fc.constantFrom(...ELEMENTS), ([a, b], e) => {
      // Both replicas start from a common state that has the element.
      const shared = orsetMerge(orsetAdd(a, "a", e).state, b);
      const removed = orsetRemove(shared, e).state;
      const readded = orsetAdd(shared, "b", e).state;
      assert.ok(orsetHas(orsetMerge(removed, readded), e));
      assert.ok(orsetHas(orsetMerge(readded, removed), e));
    }));
  });
  await t.step("a remove that has seen the add removes it", () => {
    fc.assert(fc.property(orsetTriple, fc.constantFrom(...ELEMENTS), ([a, b], e) => {
      const added = orsetAdd(a, "a", e).state;
      const seenThenRemoved = orsetRemove(orsetMerge(b, added), e).state;
      assert.ok(!orsetHas(orsetMerge(added, seenThenRemoved), e));
    }));
  });
  await t.step("a remove of an element it never saw does not remove it", () => {
    const added = orsetAdd(EMPTY_ORSET, "a", "x").state;
    const blind = orsetRemove(EMPTY_ORSET, "x").state;
    assert.deepEqual(orsetElements(orsetMerge(blind, added)), ["x"]);
  });
});

Deno.test("orsetJoinDeltas() of an op sequence, merged anywhere, equals a full-state merge", () => {
  const opArb = fc.array(
    fc.tuple(fc.boolean(), fc.constantFrom(...ELEMENTS)),
    { minLength: 1, maxLength: 15 },
  );
  fc.assert(
    fc.property(orsetTriple, opArb, fc.infiniteStream(fc.nat()), ([a, b], ops, order) => {
      let state = a;
      const deltas: OrSet[] = [];
      for (const [add, e] of ops) {
        const m = add ? orsetAdd(state, "a", e) : orsetRemove(state, e);
        state = m.state;
        deltas.push(m.delta);
      }
      const joined = deltas.reduce(orsetJoinDeltas);
      // A peer that already had `a` needs only the deltas …
      const peer = orsetMerge(b, a);
      assert.ok(orsetEquals(orsetMerge(peer, joined), orsetMerge(peer, state)));
      // … in any order, duplicated.
      const shuffled = [...deltas, ...deltas.slice(0, 3)]
        .map((d) => [order.next().value, d] as const)
        .sort((x, y) => x[0] - y[0]).map(([, d]) => d);
      assert.ok(orsetEquals(shuffled.reduce(orsetMerge, peer), orsetMerge(peer, state)));
      // The delta group is small: it names only the elements the ops touched.
      assert.ok(joined.entries.size <= new Set(ops.map(([, e]) => e)).size);
    }),
    { numRuns: 300 },
  );
});

/** The textbook OR-Set: unique tags and unbounded tombstones; the reference for values. */
interface NaiveSet {
  adds: Map<number, string>;
  tombs: Set<number>;
}

Deno.test("orsetElements() matches a naive tombstone OR-Set on every replica", () => {
  fc.assert(
    fc.property(fc.array(setStep, { minLength: 10, maxLength: 60 }), (steps) => {
      let tag = 0;
      const naive: NaiveSet[] = [0, 1, 2].map(() => ({ adds: new Map(), tombs: new Set() }));
      const live = (s: NaiveSet) =>
        [...new Set([...s.adds].filter(([t]) => !s.tombs.has(t)).map(([, e]) => e))].sort();
      for (let i = 0; i < steps.length; i++) {
        const s = steps[i];
        const n = naive[s.r];
        if (s.op === "add") n.adds.set(++tag, s.e);
        else if (s.op === "remove") {
          for (const [t, e] of n.adds) if (e === s.e) n.tombs.add(t);
        } else {
          const from = naive[s.from];
          naive[s.r] = {
            adds: new Map([...n.adds, ...from.adds]),
            tombs: new Set([...n.tombs, ...from.tombs]),
          };
        }
        const real = runSetHistory(steps.slice(0, i + 1));
        for (const r of [0, 1, 2]) assert.deepEqual(orsetElements(real[r]), live(naive[r]));
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("orsetAdd() tags with (replica, counter) dots and keeps no tombstones", () => {
  let s = EMPTY_ORSET;
  for (let i = 0; i < 100; i++) {
    s = orsetAdd(s, "a", `e${i % 10}`).state;
    s = orsetRemove(s, `e${(i + 5) % 10}`).state;
  }
  // One dot per live element; the context is a single version-vector entry.
  for (const dots of s.entries.values()) assert.equal(dots.length, 1);
  assert.deepEqual([...s.context.vv], [["a", 100]]);
  assert.equal(s.context.cloud.size, 0);
  assert.ok(REPLICAS.includes("a"));
});

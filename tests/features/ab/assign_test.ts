import assert from "node:assert/strict";
import fc from "fast-check";
import { assignVariant, compileExperiment } from "../../../lib/features/ab/assign.ts";
import { ExperimentSchema } from "../../../lib/features/ab/config.ts";

function makeExperiment(weights: number[], name = "exp") {
  return ExperimentSchema.parse({
    name,
    variants: weights.map((weight, i) => ({ name: `V${i}`, weight })),
  });
}

Deno.test("assignVariant() gives the same clients the same variants as before", () => {
  // Pinned: a change to the hash or the bounds would reshuffle every user's assignment.
  const compiled = compileExperiment(makeExperiment([1, 1, 2], "default"));
  const pinned: Array<[string, string]> = [
    ["203.0.113.9", "V1"],
    ["198.51.100.7", "V2"],
    ["2001:db8::1", "V2"],
    ["192.0.2.1", "V1"],
    ["10.0.0.1", "V1"],
    ["user-42", "V1"],
    ["", "V0"],
    ["ü", "V0"],
  ];
  for (const [key, variant] of pinned) assert.equal(assignVariant(compiled, key), variant, key);
});

Deno.test("assignVariant() is deterministic and only returns configured variants", () => {
  const compiled = compileExperiment(makeExperiment([1, 2, 3]));
  fc.assert(fc.property(fc.string({ maxLength: 60 }), (key) => {
    const v = assignVariant(compiled, key);
    assert.ok(compiled.names.has(v));
    assert.equal(assignVariant(compiled, key), v);
  }));
});

Deno.test("assignVariant() follows the weights over many clients", async (t) => {
  for (const weights of [[1, 1], [9, 1], [1, 2, 1]]) {
    await t.step(`weights ${weights.join("/")}`, () => {
      const compiled = compileExperiment(makeExperiment(weights));
      const counts = new Map<string, number>();
      const n = 40_000;
      for (let i = 0; i < n; i++) {
        const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
        const v = assignVariant(compiled, ip);
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      const total = weights.reduce((a, b) => a + b, 0);
      weights.forEach((w, i) => {
        const share = (counts.get(`V${i}`) ?? 0) / n;
        assert.ok(Math.abs(share - w / total) < 0.015, `V${i}: ${share} vs ${w / total}`);
      });
    });
  }
});

Deno.test("assignVariant() splits independently per experiment", () => {
  const a = compileExperiment(makeExperiment([1, 1], "one"));
  const b = compileExperiment(makeExperiment([1, 1], "two"));
  let same = 0;
  for (let i = 0; i < 10_000; i++) {
    if (assignVariant(a, `k${i}`) === assignVariant(b, `k${i}`)) same++;
  }
  assert.ok(same > 4_500 && same < 5_500, `correlated: ${same}`);
});

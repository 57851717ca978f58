import assert from "node:assert/strict";
import fc from "fast-check";
import { parseInput } from "../../../lib/platform/http/validate.ts";
import { HttpError } from "../../../lib/platform/http/errors.ts";
import { pncounterReplicas } from "../../../lib/features/crdt/pncounter.ts";
import {
  LwwWireSchema,
  orsetToWire,
  OrSetWireSchema,
  pncounterToWire,
  PNCounterWireSchema,
} from "../../../lib/features/crdt/wire.ts";
import { orsetTriple, pncounter } from "./_arbitraries.ts";
import { orsetEquals } from "./_sets.ts";

/** Round-trips through JSON text, as the network does. */
function viaJson<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value));
}

function rejects(schema: Parameters<typeof parseInput>[0], value: unknown, pattern: RegExp) {
  assert.throws(() => parseInput(schema, value, "state"), (e: unknown) => {
    assert.ok(e instanceof HttpError);
    assert.equal(e.status, 400);
    assert.match(JSON.stringify(e.extensions.errors), pattern);
    return true;
  });
}

Deno.test("orsetToWire() round-trips through JSON", () => {
  fc.assert(fc.property(orsetTriple, ([a]) => {
    const back = OrSetWireSchema.parse(viaJson(orsetToWire(a)));
    assert.ok(orsetEquals(back, a));
  }));
});

Deno.test("pncounterToWire() round-trips through JSON", () => {
  fc.assert(fc.property(pncounter, (a) => {
    const back = PNCounterWireSchema.parse(viaJson(pncounterToWire(a)));
    assert.deepEqual(pncounterReplicas(back), pncounterReplicas(a));
  }));
});

Deno.test("OrSetWireSchema rejects malformed and forged states", async (t) => {
  const good = {
    type: "or-set",
    v: 1,
    entries: [["x", [["a", 1]]]],
    context: { vv: { a: 1 }, cloud: [] },
  };
  assert.equal(OrSetWireSchema.parse(good).entries.size, 1);
  const cases: [string, unknown, RegExp][] = [
    ["wrong version", { ...good, v: 2 }, /Unsupported wire version: 2/],
    ["wrong type", { ...good, type: "g-counter" }, /type/],
    ["dot outside the context", { ...good, context: { vv: {}, cloud: [] } }, /not in the context/],
    ["negative count", { ...good, context: { vv: { a: -1 }, cloud: [] } }, /context\.vv\.a/],
    ["zero dot counter", { ...good, entries: [["x", [["a", 0]]]] }, /entries\.0\.1\.0\.1/],
    ["fractional count", { ...good, context: { vv: { a: 1.5 }, cloud: [] } }, /vv/],
    ["unknown replica format", { ...good, entries: [["x", [["bad id!", 1]]]] }, /entries\.0\.1/],
    [
      "__proto__ replica",
      JSON.parse(
        '{"type":"or-set","v":1,"entries":[],"context":{"vv":{"__proto__":1},"cloud":[]}}',
      ),
      /vv/,
    ],
    [
      "duplicate element",
      { ...good, entries: [["x", [["a", 1]]], ["x", []]] },
      /Duplicate element/,
    ],
    [
      "one dot in two elements",
      { ...good, entries: [["x", [["a", 1]]], ["y", [["a", 1]]]] },
      /Duplicate dot/,
    ],
    ["two dots of one replica", {
      ...good,
      entries: [["x", [["a", 1], ["a", 2]]]],
      context: { vv: { a: 2 }, cloud: [] },
    }, /Duplicate dot/],
    ["control character", { ...good, entries: [["x\u0000", [["a", 1]]]] }, /control/],
    ["too long element", { ...good, entries: [["x".repeat(257), [["a", 1]]]] }, /256/],
    ["not an object", "or-set", /expected object/i],
  ];
  for (const [name, value, pattern] of cases) {
    await t.step(name, () => rejects(OrSetWireSchema, value, pattern));
  }
});

Deno.test("Counter and register wire schemas reject malformed states", async (t) => {
  await t.step(
    "pn-counter with a count beyond 2^53",
    () =>
      rejects(PNCounterWireSchema, { type: "pn-counter", v: 1, p: {}, n: { a: 2 ** 53 } }, /n\.a/),
  );
  await t.step(
    "pn-counter with a string count",
    () => rejects(PNCounterWireSchema, { type: "pn-counter", v: 1, p: { a: "1" }, n: {} }, /p\.a/),
  );
  await t.step(
    "pn-counter of version 0",
    () => rejects(PNCounterWireSchema, { type: "pn-counter", v: 0, p: {}, n: {} }, /version/),
  );
  await t.step("register with a negative logical clock", () =>
    rejects(LwwWireSchema, {
      type: "lww-register",
      v: 1,
      value: 1,
      ts: { wall: 1, logical: -1, replica: "a" },
    }, /ts\.logical/));
  await t.step("counter with too many replicas", () => {
    const counts = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`r${i}`, 1]));
    rejects(PNCounterWireSchema, { type: "pn-counter", v: 1, p: counts, n: {} }, /At most 256/);
  });
});

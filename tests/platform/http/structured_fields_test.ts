import assert from "node:assert/strict";
import fc from "fast-check";
import { type BareItem, parseDictionary } from "../../../lib/platform/http/structured_fields.ts";

function item(d: ReturnType<typeof parseDictionary>, key: string): BareItem | undefined {
  const m = d?.get(key);
  return m?.kind === "item" ? m.item : undefined;
}

Deno.test("parseDictionary() reads members, values, inner lists and parameters", () => {
  const d = parseDictionary(
    'a=1, b, c="x\\"y", d=?0, e=(1 tok "s");p=2, f=1.5;q, g=:aGk=:, h=@42',
  )!;
  assert.deepEqual(d.get("a"), {
    kind: "item",
    item: { type: "integer", value: 1 },
    params: new Map(),
  });
  assert.deepEqual(item(d, "b"), {
    type: "boolean",
    value: true,
  });
  assert.deepEqual(item(d, "c"), {
    type: "string",
    value: 'x"y',
  });
  assert.deepEqual(item(d, "d"), {
    type: "boolean",
    value: false,
  });
  const e = d.get("e")!;
  assert.equal(e.kind, "list");
  if (e.kind === "list") {
    assert.deepEqual(e.items.map((i) => i.value), [1, "tok", "s"]);
    assert.deepEqual(e.params.get("p"), { type: "integer", value: 2 });
  }
  assert.deepEqual(item(d, "f"), {
    type: "decimal",
    value: 1.5,
  });
  assert.deepEqual(item(d, "g"), {
    type: "bytes",
    value: "aGk=",
  });
  assert.deepEqual(item(d, "h"), { type: "date", value: 42 });
});

Deno.test("parseDictionary() fails the whole field on any syntax error", () => {
  for (
    const bad of [
      "",
      "   ",
      "a=1,",
      "a=1 b=2",
      "A=1",
      "1a=1",
      'a="unterminated',
      'a="bad \\x escape"',
      "a=1.",
      "a=1.2345",
      "a=1234567890123456",
      "a=(1 2",
      "a=?2",
      "a=:not base64!:",
      "a=1,,b=2",
      "a=é",
    ]
  ) {
    assert.equal(parseDictionary(bad), null, bad);
  }
});

Deno.test("parseDictionary() keeps the last of duplicate keys", () => {
  const d = parseDictionary("max-age=1, max-age=2")!;
  assert.deepEqual(item(d, "max-age"), {
    type: "integer",
    value: 2,
  });
});

Deno.test("parseDictionary() never throws, whatever the input", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => {
      const d = parseDictionary(s);
      assert.ok(d === null || d instanceof Map);
    }),
    { numRuns: 3000 },
  );
});

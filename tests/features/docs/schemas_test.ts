import assert from "node:assert/strict";
import fc from "fast-check";
import { eventsBodySchema, validateEvents } from "../../../lib/features/analytics/event_schema.ts";
import { isValidTag } from "../../../lib/features/cache/key.ts";
import { SchemaBook } from "../../../lib/features/docs/openapi/json_schema.ts";
import { TAG_PATTERN } from "../../../lib/features/cache/routes.ts";
import { z } from "zod";
import { validateJson } from "./_json_schema.ts";

const T0 = Date.UTC(2026, 0, 1);
const limits = {
  maxBatchEvents: 3,
  maxFutureMs: 60_000,
  retentionMs: 3_600_000,
  properties: { maxBytes: 256, maxDepth: 3, maxKeys: 8 },
};

/** Mostly `good`, sometimes `bad`: most events valid, so whole batches often are. */
function mostly<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 });
}

const eventArb = fc.tuple(
  fc.record({
    user_id: mostly(fc.constantFrom("u-1", "u:2", "a@b"), fc.constantFrom("u 1", "", "__proto__")),
    event_type: mostly(fc.constantFrom("click", "view"), fc.constantFrom("bad type", "")),
    timestamp: mostly(
      fc.oneof(
        fc.integer({ min: T0 - 3_599_000, max: T0 + 60_000 }),
        fc.constant("2026-01-01T00:00:00Z"),
      ),
      fc.constantFrom(-5, T0 + 60_001, T0 - 3_600_000, "yesterday", 1.5),
    ),
    properties: mostly(
      fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
      fc.oneof(fc.constant([]), fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 9 })),
    ),
  }, { requiredKeys: ["user_id", "event_type"] }),
  mostly(fc.constant({}), fc.constant({ extra: 1 })),
  mostly(fc.constant(false), fc.constant(true)),
).map(([event, extra, dropUser]) => {
  const out: Record<string, unknown> = { ...event, ...extra };
  if (dropUser) delete out.user_id;
  return out;
});

Deno.test("eventsBodySchema() accepts exactly the bodies validateEvents() accepts whole", () => {
  const now = () => T0;
  const schema = eventsBodySchema(limits, now);
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        eventArb,
        fc.record({ events: fc.array(eventArb, { maxLength: 5 }) }),
        fc.record({ events: fc.array(eventArb, { maxLength: 2 }), more: fc.constant(true) }),
        fc.jsonValue(),
      ),
      (body) => {
        const whole = validateEvents(body, limits, now).issues.length === 0;
        if (whole) accepted++;
        assert.equal(schema.safeParse(body).success, whole, JSON.stringify(body));
      },
    ),
    { numRuns: 2000 },
  );
  assert.ok(accepted > 300, `too few valid bodies to mean much: ${accepted}`);
});

Deno.test("TAG_PATTERN accepts exactly the tags isValidTag() accepts", () => {
  const re = new RegExp(TAG_PATTERN);
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 130 }), fc.string({ unit: "binary", maxLength: 4 })),
      (tag) => assert.equal(re.test(tag), isValidTag(tag), JSON.stringify(tag)),
    ),
    { numRuns: 3000 },
  );
  assert.equal(re.test("x".repeat(128)), true);
  assert.equal(re.test("x".repeat(129)), false);
});

Deno.test("SchemaBook.ref() moves recursive parts into components", async (t) => {
  await t.step("z.json() refers to itself by component name", () => {
    const book = new SchemaBook();
    assert.deepEqual(book.ref("Value", z.json()), { $ref: "#/components/schemas/Value" });
    const value = book.components.get("Value") as { anyOf: Array<Record<string, unknown>> };
    assert.deepEqual(value.anyOf[4], {
      type: "array",
      items: { $ref: "#/components/schemas/Value" },
    });
    assert.equal("$schema" in value, false);
  });
  await t.step("nested recursion becomes <name>_<def>", () => {
    const book = new SchemaBook();
    book.ref("Box", z.object({ content: z.json() }));
    const box = book.components.get("Box") as { properties: Record<string, unknown> };
    const ref = (box.properties.content as { $ref: string }).$ref;
    assert.match(ref, /^#\/components\/schemas\/Box_schema\d+$/);
    assert.ok(book.components.has(ref.slice("#/components/schemas/".length)));
  });
  await t.step("one name, one schema", () => {
    const book = new SchemaBook();
    const a = z.string();
    book.ref("A", a);
    book.ref("A", a);
    assert.throws(() => book.ref("A", z.number()), /Two schemas registered as A/);
  });
  await t.step("parameters from an object: defaults optional, path always required", () => {
    const book = new SchemaBook();
    const query = book.parameters(
      "query",
      z.object({ n: z.coerce.number().int().min(1).default(5), q: z.string() }),
      { n: "How many" },
    );
    assert.deepEqual(query, [
      {
        name: "n",
        in: "query",
        required: false,
        description: "How many",
        schema: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: 5 },
      },
      { name: "q", in: "query", required: true, schema: { type: "string" } },
    ]);
    assert.equal(
      book.parameters("path", z.object({ id: z.string().optional() }))[0].required,
      true,
    );
  });
});

Deno.test("validateJson() judges values by each keyword the document uses", async (t) => {
  const root = {
    components: { schemas: { Id: { type: "string", pattern: "^[a-z]+$", maxLength: 3 } } },
  };
  const schema = {
    type: "object",
    properties: {
      id: { $ref: "#/components/schemas/Id" },
      n: { type: "integer", minimum: 1, maximum: 5 },
      tags: { type: "array", items: { enum: ["a", "b"] }, maxItems: 2 },
      v: { anyOf: [{ type: "null" }, { const: 1 }] },
    },
    required: ["id"],
    additionalProperties: false,
  };
  const cases: Array<[string, unknown, boolean]> = [
    ["valid", { id: "abc", n: 5, tags: ["a"], v: null }, true],
    ["missing required", { n: 1 }, false],
    ["pattern through $ref", { id: "ABC" }, false],
    ["maxLength", { id: "abcd" }, false],
    ["integer", { id: "a", n: 1.5 }, false],
    ["maximum", { id: "a", n: 6 }, false],
    ["enum in items", { id: "a", tags: ["c"] }, false],
    ["maxItems", { id: "a", tags: ["a", "b", "a"] }, false],
    ["anyOf/const", { id: "a", v: 2 }, false],
    ["additionalProperties", { id: "a", x: 1 }, false],
    ["type", [], false],
  ];
  for (const [name, value, ok] of cases) {
    await t.step(name, () => {
      assert.equal(validateJson(value, schema, root).length === 0, ok);
    });
  }
  await t.step("an unknown keyword is an error, not a pass", () => {
    assert.throws(() => validateJson(1, { multipleOf: 2 }, root), /Unsupported keyword/);
  });
});

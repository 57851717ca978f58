import assert from "node:assert/strict";
import fc from "fast-check";
import { propertiesProblem, validateEvents } from "../../../lib/features/analytics/event_schema.ts";
import { makeLimits, T0 } from "./_helpers.ts";

const now = () => T0;

Deno.test("validateEvents() accepts one event or a batch", async (t) => {
  await t.step("a single event gets the current time when it has none", () => {
    const r = validateEvents({ user_id: "u1", event_type: "click" }, makeLimits(), now);
    assert.equal(r.single, true);
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.events, [{
      index: 0,
      event: { user_id: "u1", event_type: "click", timestamp: T0 },
    }]);
  });
  await t.step("a batch keeps indexes; ISO timestamps become milliseconds", () => {
    const r = validateEvents(
      {
        events: [
          { user_id: "a@b.c", event_type: "page_view", timestamp: T0 - 1000 },
          {
            user_id: "u2",
            event_type: "x",
            timestamp: "2025-12-31T23:59:00Z",
            properties: { k: [1, "v", null] },
          },
        ],
      },
      makeLimits(),
      now,
    );
    assert.deepEqual(r.issues, []);
    assert.equal(r.events[1].event.timestamp, T0 - 60_000);
    assert.deepEqual(r.events[1].event.properties, { k: [1, "v", null] });
  });
});

Deno.test("validateEvents() reports reasons per index", async (t) => {
  const check = (body: unknown, expected: Array<[number | null, string, RegExp]>) => {
    const r = validateEvents(body, makeLimits({ maxBatchEvents: 3 }), now);
    const got = r.issues.map((i) => [i.index, i.path, i.message]);
    assert.equal(got.length, expected.length, JSON.stringify(got));
    expected.forEach(([index, path, message], k) => {
      assert.equal(got[k][0], index);
      assert.equal(got[k][1], path);
      assert.match(got[k][2] as string, message);
    });
  };
  await t.step("oversized, empty and malformed batches", () => {
    check({ events: [1, 2, 3, 4] }, [[null, "events", /More than 3 events: 4/]]);
    check({ events: [] }, [[null, "events", /at least one/]]);
    check({ events: "x" }, [[null, "events", /array/]]);
    check([{ user_id: "u", event_type: "t" }], [[null, "events", /event object/]]);
    check({ events: [], extra: 1 }, [[null, "(root)", /Unrecognized key: extra/]]);
  });
  await t.step("wrong types, charset, lengths, unknown fields", () => {
    check({
      events: [
        { user_id: 5, event_type: "t" },
        { user_id: "bad id", event_type: "t".repeat(65) },
        { user_id: "u", event_type: "t", colour: "red" },
      ],
    }, [
      [0, "user_id", /expected string/i],
      [1, "user_id", /A-Za-z0-9/],
      [1, "event_type", /1-64/],
      [2, "(root)", /colour/],
    ]);
  });
  await t.step("timestamps in the future or past retention", () => {
    check({
      events: [
        { user_id: "u", event_type: "t", timestamp: T0 + 301_000 },
        { user_id: "u", event_type: "t", timestamp: T0 - 25 * 3_600_000 },
        { user_id: "u", event_type: "t", timestamp: 1.5 },
      ],
    }, [
      [0, "timestamp", /in the future/],
      [1, "timestamp", /Older than the retention/],
      [2, "timestamp", /./],
    ]);
  });
  await t.step("huge, deep or key-heavy properties; reserved names", () => {
    const deep = { a: { b: { c: { d: { e: 1 } } } } };
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
    check({
      events: [
        { user_id: "u", event_type: "t", properties: { big: "x".repeat(5000) } },
        { user_id: "u", event_type: "t", properties: deep },
        { user_id: "__proto__", event_type: "t", properties: many },
      ],
    }, [
      [0, "properties", /Larger than 4096 bytes/],
      [1, "properties", /deeper than 4/],
      [2, "user_id", /Reserved/],
      [2, "properties", /More than 64 keys/],
    ]);
  });
});

Deno.test("propertiesProblem() accepts every small JSON object and bounds its size", () => {
  const limits = { maxBytes: 512, maxDepth: 3, maxKeys: 20 };
  fc.assert(
    fc.property(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 5 }),
      (value) => {
        const obj = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
        const problem = propertiesProblem(obj, limits);
        const size = new TextEncoder().encode(JSON.stringify(obj)).byteLength;
        if ("__proto__" in Object.getOwnPropertyDescriptors(obj)) return;
        if (size <= limits.maxBytes) assert.equal(problem, null);
        else assert.match(problem ?? "", /Larger than 512 bytes/);
      },
    ),
  );
});

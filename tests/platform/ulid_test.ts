import assert from "node:assert/strict";
import fc from "fast-check";
import * as pkg from "ulid";
import { encodeTime, ulid, ULID_TIME_MAX } from "../../lib/platform/ulid.ts";

const time = fc.integer({ min: 0, max: ULID_TIME_MAX });

Deno.test("encodeTime() gives the ulid package's strings", () => {
  fc.assert(fc.property(time, fc.integer({ min: 10, max: 12 }), (ms, len) => {
    assert.equal(encodeTime(ms, len), pkg.encodeTime(ms, len));
  }));
  for (const bad of [-1, ULID_TIME_MAX + 1, 1.5, NaN]) {
    assert.throws(() => encodeTime(bad), RangeError, String(bad));
  }
});

Deno.test("ulid() is a valid ULID of its time, and two are never the same", () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: ULID_TIME_MAX }), (ms) => {
    const id = ulid(ms);
    assert.ok(pkg.isValid(id), id);
    assert.equal(pkg.decodeTime(id), ms);
    assert.notEqual(ulid(ms), id);
  }));
  const now = Date.now();
  assert.ok(pkg.decodeTime(ulid()) >= now);
});

Deno.test("ulid()'s random part uses the whole alphabet", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) for (const c of ulid(1).slice(10)) seen.add(c);
  assert.equal(seen.size, 32);
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCookieHeader } from "../../../lib/platform/http/cookies.ts";

Deno.test("parseCookieHeader() reads pairs and skips malformed ones", () => {
  const map = parseCookieHeader('a=1; variant=B; bad; =x; b c=2; q="quoted"; a=2');
  assert.equal(map.get("a"), "1");
  assert.equal(map.get("variant"), "B");
  assert.equal(map.get("q"), "quoted");
  assert.equal(map.has("b c"), false);
  assert.equal(map.size, 3);
});

Deno.test("parseCookieHeader() ignores oversized headers", () => {
  assert.equal(parseCookieHeader("variant=A; " + "x".repeat(9000)).size, 0);
  assert.equal(parseCookieHeader(null).size, 0);
});

Deno.test("parseCookieHeader() never throws", () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    parseCookieHeader(s);
  }));
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { bearerToken, constantTimeEqual, SharedSecret } from "../../../lib/platform/http/secret.ts";

Deno.test("SharedSecret.matches() accepts exactly the secret", () => {
  const secret = new SharedSecret("s3cret-token-0123456789");
  assert.equal(secret.matches("s3cret-token-0123456789"), true);
  for (
    const bad of [
      "",
      "s3cret-token-012345678",
      "s3cret-token-01234567890",
      "S3cret-token-0123456789",
    ]
  ) {
    assert.equal(secret.matches(bad), false, bad);
  }
  assert.equal(secret.matches(null), false);
  assert.throws(() => new SharedSecret(""), /empty/);
  fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => {
    assert.equal(secret.matches(s), s === "s3cret-token-0123456789");
  }));
});

Deno.test("bearerToken() reads only well-formed bearer headers", () => {
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("bearer \t abc "), "abc");
  for (
    const bad of [null, undefined, "", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearer é"]
  ) {
    assert.equal(bearerToken(bad), null, String(bad));
  }
});

Deno.test("SharedSecret.matchesBearer() checks an Authorization header", () => {
  const secret = new SharedSecret("abc");
  assert.equal(secret.matchesBearer("Bearer abc"), true);
  assert.equal(secret.matchesBearer("bearer   abc"), true);
  for (
    const bad of [null, "", "Bearer", "Bearer abd", "Bearer abcd", "Basic abc", "Bearer abc x"]
  ) {
    assert.equal(secret.matchesBearer(bad), false, String(bad));
  }
});

Deno.test("constantTimeEqual() is byte equality, whatever the lengths", () => {
  const bytes = fc.uint8Array({ maxLength: 24 });
  fc.assert(fc.property(bytes, fc.uint8Array({ minLength: 1, maxLength: 24 }), (a, b) => {
    const equal = a.length === b.length && a.every((x, i) => x === b[i]);
    assert.equal(constantTimeEqual(a, b), equal);
  }));
  // Repeats and prefixes of the secret (where a wrapping index could be fooled) are refused.
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.nat(4), (b, k) => {
    const repeated = new Uint8Array(b.length * (k + 2)).map((_, i) => b[i % b.length]);
    assert.equal(constantTimeEqual(repeated, b), false);
    assert.equal(constantTimeEqual(b.subarray(0, b.length - 1), b), false);
    assert.equal(constantTimeEqual(b, b.slice()), true);
  }));
  assert.throws(() => constantTimeEqual(new Uint8Array(1), new Uint8Array(0)), /empty/);
});

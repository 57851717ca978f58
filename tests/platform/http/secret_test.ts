import assert from "node:assert/strict";
import fc from "fast-check";
import { bearerToken, SharedSecret } from "../../../lib/platform/http/secret.ts";

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

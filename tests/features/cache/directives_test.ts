import assert from "node:assert/strict";
import {
  MAX_DELTA_SECONDS,
  parseRequestDirectives,
  parseResponseDirectives,
  splitDirectives,
} from "../../../lib/features/cache/directives.ts";

Deno.test("splitDirectives() splits on commas outside quoted strings", async (t) => {
  const cases: Array<[string | null, Array<[string, string | null]>]> = [
    [null, []],
    ["", []],
    ["max-age=60", [["max-age", "60"]]],
    [" Public ,MAX-AGE = 5 ", [["public", null], ["max-age", "5"]]],
    ['private="set-cookie, x-a", no-cache', [["private", "set-cookie, x-a"], ["no-cache", null]]],
    ['no-cache="a\\"b"', [["no-cache", 'a"b']]],
    [",,,", []],
    ["a=1,,b", [["a", "1"], ["b", null]]],
  ];
  for (const [input, expected] of cases) {
    await t.step(String(input), () => assert.deepEqual(splitDirectives(input), expected));
  }
});

Deno.test("parseResponseDirectives() reads what a shared cache acts on", async (t) => {
  await t.step("numbers, flags, first duplicate wins", () => {
    const d = parseResponseDirectives(
      "public, max-age=60, max-age=5, s-maxage=30, stale-while-revalidate=10, stale-if-error=99, must-revalidate, proxy-revalidate, immutable, must-understand, no-store",
    );
    assert.equal(d.maxAge, 60);
    assert.equal(d.sMaxAge, 30);
    assert.equal(d.staleWhileRevalidate, 10);
    assert.equal(d.staleIfError, 99);
    assert.ok(d.public && d.mustRevalidate && d.proxyRevalidate && d.immutable);
    assert.ok(d.mustUnderstand && d.noStore);
  });
  await t.step("malformed numbers are NaN, enormous ones clamp to 2^31", () => {
    assert.ok(Number.isNaN(parseResponseDirectives("max-age=abc").maxAge!));
    assert.ok(Number.isNaN(parseResponseDirectives("max-age=-5").maxAge!));
    assert.ok(Number.isNaN(parseResponseDirectives("max-age").maxAge!));
    assert.equal(parseResponseDirectives("max-age=99999999999999").maxAge, MAX_DELTA_SECONDS);
  });
  await t.step("qualified private keeps the response storable minus fields", () => {
    const d = parseResponseDirectives('private="Set-Cookie, X-User"');
    assert.equal(d.private, false);
    assert.deepEqual(d.privateFields, ["set-cookie", "x-user"]);
    assert.equal(parseResponseDirectives("private").private, true);
  });
});

Deno.test("parseRequestDirectives() reads request directives and Pragma", async (t) => {
  await t.step("all request directives", () => {
    const d = parseRequestDirectives(
      "max-age=5, max-stale=10, min-fresh=3, no-cache, no-store, only-if-cached",
    );
    assert.deepEqual(d, {
      maxAge: 5,
      maxStale: 10,
      minFresh: 3,
      noCache: true,
      noStore: true,
      onlyIfCached: true,
    });
  });
  await t.step("bare max-stale accepts any staleness", () => {
    assert.equal(parseRequestDirectives("max-stale").maxStale, true);
  });
  await t.step("malformed values are ignored", () => {
    const d = parseRequestDirectives("max-age=x, min-fresh=-1, max-stale=1.5");
    assert.equal(d.maxAge, undefined);
    assert.equal(d.minFresh, undefined);
    assert.equal(d.maxStale, undefined);
  });
  await t.step("Pragma: no-cache counts only without Cache-Control (RFC 9111 §5.4)", () => {
    assert.equal(parseRequestDirectives(null, "no-cache").noCache, true);
    assert.equal(parseRequestDirectives(null, "x, No-Cache").noCache, true);
    assert.equal(parseRequestDirectives("max-age=5", "no-cache").noCache, false);
    assert.equal(parseRequestDirectives(null, "no-cachex").noCache, false);
  });
});

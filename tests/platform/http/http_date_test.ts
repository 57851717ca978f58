import assert from "node:assert/strict";
import fc from "fast-check";
import { parseHttpDate } from "../../../lib/platform/http/http_date.ts";

const T = Date.UTC(1994, 10, 6, 8, 49, 37);
const NOW = Date.UTC(2026, 0, 1);

Deno.test("parseHttpDate() accepts the three HTTP-date formats exactly", () => {
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", NOW), T);
  assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", NOW), T);
  assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994", NOW), T);
  assert.equal(parseHttpDate("Sun Nov 16 08:49:37 1994", NOW), Date.UTC(1994, 10, 16, 8, 49, 37));
});

Deno.test("parseHttpDate() rejects near misses (RFC 9110 §5.6.7)", () => {
  for (
    const bad of [
      "Sun 06 Nov 1994 08:49:37 GMT", // no comma
      "Sun, 06 Nov 1994 08:49:37 UTC",
      "Sun, 06-Nov-1994 08:49:37 GMT", // dashes with a four-digit year
      "Sun, 06 Nov 1994 8:49:37 GMT", // one-digit hour
      "Sun,  06 Nov 1994 08:49:37 GMT", // double space
      "Sun, 06 Nov  1994 08:49:37 GMT",
      "sun, 06 nov 1994 08:49:37 gmt", // case
      "Sun, 6 Nov 1994 08:49:37 GMT", // one-digit day
      "Sun, 31 Feb 1994 08:49:37 GMT", // no such day
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:49:37 +0000",
      "Sun Nov 6 08:49:37 1994", // asctime without the pad
      "1994-11-06T08:49:37Z",
      "0",
      "-1",
      "",
      " Sun, 06 Nov 1994 08:49:37 GMT",
    ]
  ) {
    assert.ok(Number.isNaN(parseHttpDate(bad, NOW)), bad);
  }
  assert.ok(Number.isNaN(parseHttpDate(null)));
});

Deno.test("parseHttpDate() puts a two-digit year more than 50 years ahead in the last century", () => {
  assert.equal(
    new Date(parseHttpDate("Monday, 01-Jan-74 00:00:00 GMT", NOW)).getUTCFullYear(),
    2074,
  );
  assert.equal(
    new Date(parseHttpDate("Thursday, 01-Jan-77 00:00:00 GMT", NOW)).getUTCFullYear(),
    1977,
  );
});

Deno.test("parseHttpDate() reads back every IMF-fixdate Date#toUTCString() writes", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 253402300799 }), (s) => {
      const ms = s * 1000;
      assert.equal(parseHttpDate(new Date(ms).toUTCString(), NOW), ms);
    }),
    { numRuns: 2000 },
  );
});

/**
 * Authorization bypass through request-target spellings: routing and authorization must decide
 * on the path that is forwarded. Every request here carries no token against a production edge
 * that protects `/api/*`; none may reach the origin's `/api/*`.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { compileRoutePath } from "../../lib/platform/http/path_pattern.ts";
import { canonicalTarget, isRefusal, matchPath } from "../../lib/platform/http/target.ts";
import { bearer, productionEdge, raw, startRecordingOrigin } from "./_edge.ts";

/**
 * Spellings of a protected path that a router and an origin may read differently (dot segments,
 * plain, encoded and double-encoded; backslashes and encoded slashes; case; empty segments; path
 * parameters; an unknown method; the absolute form; a fragment): each must be refused (400, 405)
 * or denied (401).
 */
const ATTACKS: Array<[string, string]> = [
  ["GET", "/x/../api/echo"],
  ["GET", "/./api/echo"],
  ["GET", "/%2e%2e/api/echo"],
  ["GET", "/api\\echo"],
  ["POST", "/z/../api/echo"],
  ["GET", "/x/%2e%2e/api/echo"],
  ["GET", "/x/.%2E/api/echo"],
  ["GET", "/x/%2E./api/echo"],
  ["GET", "/%61pi/echo"],
  ["GET", "/API/echo"],
  ["GET", "/Api/Echo"],
  ["GET", "//api/echo"],
  ["GET", "///api//echo"],
  ["GET", "/api;x=1/echo"],
  ["GET", "/api%3Bx/echo"],
  ["GET", "/api%2fecho"],
  ["GET", "/api%5cecho"],
  ["GET", "/%252e%252e/api/echo"],
  ["GET", "/x/..%2f/api/echo"],
  ["GET", "/api/echo/.."],
  ["GET", "/api/./echo"],
  ["GET", "/api"],
  ["GET", "/api/"],
  ["DELETE", "/x/../API/echo"],
  ["M-SEARCH", "/api/echo"],
  ["GET", "http://127.0.0.1/x/../api/echo"],
  ["GET", "/api/echo#frag"],
];

Deno.test("no spelling of a protected path reaches the origin without a token", async (t) => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url);
  for (const [method, target] of ATTACKS) {
    await t.step(`${method} ${target}`, async () => {
      const res = await raw(e.url, `${method} ${target} HTTP/1.1`);
      assert.ok(
        res.status === 400 || res.status === 401 || res.status === 405,
        `${method} ${target} answered ${res.status}`,
      );
      assert.equal(res.headers["content-type"], "application/problem+json");
    });
  }
  assert.deepEqual(origin.reached("/api"), [], "the origin's /api was never reached");
});

Deno.test("an authorized request forwards exactly the path that was authorized", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url);
  const auth = await bearer(["admin"]);
  const res = await raw(e.url, "GET /x/../api/./echo?q=%41 HTTP/1.1", auth);
  assert.equal(res.status, 200);
  assert.equal(origin.seen.at(-1)!.target, "/api/echo?q=%41");
});

const underApi = compileRoutePath("/api/*");
const OWN = ["/items/*", "/crdt/*", "/events/*", "/_central/*", "/_edge/*"].map(compileRoutePath);
const ownRoute = (path: string) => OWN.some((matches) => matches(path));

/** Pieces attackers combine into paths. */
const PIECE = fc.constantFrom(
  "/",
  "//",
  ".",
  "..",
  "%2e",
  "%2E%2e",
  "%2f",
  "%5c",
  "\\",
  ";",
  ";a=b",
  "%3b",
  "%25",
  "%252e",
  "%00",
  "%61",
  "api",
  "API",
  "Api",
  "echo",
  "items",
  "x",
  "é",
  "~",
  "%7e",
);

Deno.test("for any dangerous path: refused, or the origin sees what was authorized (property)", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url);
  const auth = await bearer(["admin"]);
  await fc.assert(
    fc.asyncProperty(fc.array(PIECE, { minLength: 1, maxLength: 10 }), async (pieces) => {
      const target = "/" + pieces.join("");
      const expected = canonicalTarget(`http://edge.test${target}`, "edge.test");
      // Without a token: nothing protected may get through.
      const before = origin.seen.length;
      const anonymous = await raw(e.url, `GET ${target} HTTP/1.1`);
      const reached = origin.seen.slice(before);
      for (const seen of reached) {
        assert.ok(
          !underApi(matchPath(seen.target.split("?")[0])),
          `${target} reached the origin as ${seen.target} without a token`,
        );
      }
      if (isRefusal(expected)) {
        assert.equal(anonymous.status, 400, `${target} should be refused`);
        return;
      }
      // With a token: the origin sees byte for byte the canonical target the edge decided on.
      const from = origin.seen.length;
      const authorized = await raw(e.url, `GET ${target} HTTP/1.1`, auth);
      const got = origin.seen.slice(from);
      if (got.length > 0) {
        assert.equal(got[0].target, expected.path + expected.query, `${target}`);
      } else if (authorized.headers["x-cache"] === "HIT") {
        // From the cache: only ever a path outside the edge's own routes.
        assert.ok(!ownRoute(matchPath(expected.path)), `${target} was served from the cache`);
      } else {
        // The edge answered itself (one of its own routes): never with the origin's content.
        assert.notEqual(authorized.body, "ORIGIN PAGE");
      }
    }),
    { numRuns: 150 },
  );
});

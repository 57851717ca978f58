import assert from "node:assert/strict";
import fc from "fast-check";
import {
  canonicalAuthority,
  canonicalPath,
  type CanonicalTarget,
  canonicalTarget,
  isRefusal,
  matchPath,
} from "../../../lib/platform/http/target.ts";

function ok(
  rawUrl: string,
  host: string | null = new URL(rawUrl).host,
  scheme: "http" | "https" = "http",
): CanonicalTarget {
  const t = canonicalTarget(rawUrl, host, scheme);
  if (isRefusal(t)) throw new Error(`refused ${rawUrl}: ${t.detail}`);
  return t;
}

function refused(rawUrl: string, host: string | null): string {
  const t = canonicalTarget(rawUrl, host);
  if (!isRefusal(t)) throw new Error(`expected a refusal for ${rawUrl}, got ${t.url}`);
  return t.code;
}

/** Pieces attackers combine into paths. */
const PIECE = fc.constantFrom(
  "/",
  "//",
  ".",
  "..",
  "%2e",
  "%2E",
  "%2e%2e",
  ".%2e",
  "%2f",
  "%5c",
  "\\",
  ";",
  ";x=1",
  "%3b",
  "%25",
  "%252e",
  "%00",
  "%41",
  "%7e",
  "api",
  "API",
  "items",
  "echo",
  "é",
  "%C3%A9",
  " ",
  '"',
  "<",
  "{",
  "~",
  "a.b",
  "?",
  "#",
  "&",
  "=",
  "%",
  "%zz",
);

Deno.test("canonicalPath() keeps plain paths as they are", () => {
  for (const p of ["/", "/a", "/a/b/", "/a.b/c..d/.e", "/api/echo", "/a;b=c/d", "/~user/%C3%A9"]) {
    assert.equal(canonicalPath(p), p);
  }
});

Deno.test("canonicalPath() resolves dots, merges slashes and decodes unreserved escapes", async (t) => {
  const cases: Array<[string, string]> = [
    ["/x/../api/echo", "/api/echo"],
    ["/./api/echo", "/api/echo"],
    ["/x/%2e%2e/api/echo", "/api/echo"],
    ["/x/.%2E/api", "/api"],
    ["//api//echo", "/api/echo"],
    ["/a/./b/.", "/a/b/"],
    ["/a/..", "/"],
    ["/%41%7e%2d", "/A~-"],
    ["/%3b%c3%a9", "/%3B%C3%A9"],
    ["/é", "/%C3%A9"],
    ['/a"b<c>{d}`', "/a%22b%3Cc%3E%7Bd%7D%60"],
  ];
  for (const [raw, want] of cases) {
    await t.step(raw, () => assert.equal(canonicalPath(raw), want));
  }
});

Deno.test("canonicalTarget() refuses what cannot be made safe", async (t) => {
  const cases: Array<[string, string]> = [
    ["/%2e%2e/api/echo", "climbs"],
    ["/../api", "climbs"],
    ["/api\\echo", "backslash"],
    ["/api%2fecho", "encoded slash"],
    ["/api%5Cecho", "encoded slash"],
    ["/api%00", "NUL"],
    ["/%252e%252e/api", "double-encoded"],
    ["/a%zz", "malformed"],
    ["/a%2", "malformed"],
  ];
  for (const [path, why] of cases) {
    await t.step(`${path} (${why})`, () => {
      assert.equal(refused(`http://edge.test${path}`, "edge.test"), "bad_request_target");
    });
  }
});

Deno.test("canonicalTarget() takes the absolute-form authority and ignores Host", () => {
  const t = ok("http://Edge.Example:80/p?q=1#frag", "evil.example");
  assert.equal(t.authority, "edge.example");
  assert.equal(t.path, "/p");
  assert.equal(t.query, "?q=1");
  assert.equal(t.absoluteForm, true);
  assert.equal(t.url, "http://edge.example/p?q=1");
  // An absolute-form https target on this connection is a claim: the scheme stays http.
  const s = ok("https://edge.example/p", "evil.example");
  assert.equal(s.connectionScheme, "http");
  assert.equal(s.url, "http://edge.example/p");
});

Deno.test("canonicalTarget() takes the Host header for origin-form targets", () => {
  const t = ok("http://LocalHost:8000/a/../b", "LocalHost:8000");
  assert.equal(t.authority, "localhost:8000");
  assert.equal(t.path, "/b");
  assert.equal(t.absoluteForm, false);
  assert.equal(ok("https://edge.test:443/", "edge.test:443", "https").authority, "edge.test");
  // An https URL on a plain connection can only be an absolute-form target: its scheme is a claim.
  const claimed = ok("https://edge.test:8000/p", "edge.test:8000");
  assert.equal(claimed.absoluteForm, true);
  assert.equal(claimed.url, "http://edge.test:8000/p");
  assert.equal(ok("http://[::1]:8000/", "[::1]:8000").authority, "[::1]:8000");
  assert.equal(ok("http://localhost:8000/p", null).authority, "localhost:8000");
});

Deno.test("canonicalTarget() refuses invalid hosts", async (t) => {
  for (const host of ["a/b", "a@b", "a b", "a..b", ".a", "a:99999", "a:x", "[zz]", "é.test"]) {
    await t.step(host, () => assert.equal(refused(`http://${host}/p`, host), "bad_host"));
  }
  await t.step("an invalid Host beside an absolute-form target", () => {
    assert.equal(refused("http://edge.test/p", "a@b"), "bad_host");
  });
});

Deno.test("canonicalAuthority() lower-cases and drops the default port", () => {
  assert.equal(canonicalAuthority("A.B:80", "http"), "a.b");
  assert.equal(canonicalAuthority("A.B:443", "http"), "a.b:443");
  assert.equal(canonicalAuthority("a.b:0080", "http"), "a.b");
  assert.equal(canonicalAuthority("a.b.", "http"), "a.b.");
});

Deno.test("canonicalTarget() is a fixed point of URL parsing and of itself (property)", () => {
  fc.assert(
    fc.property(fc.array(PIECE, { maxLength: 12 }), fc.array(PIECE, { maxLength: 4 }), (p, q) => {
      const raw = `http://edge.test/${p.join("")}${q.length ? "?" + q.join("") : ""}`;
      const t = canonicalTarget(raw, "edge.test");
      if (isRefusal(t)) return;
      const parsed = new URL(t.url);
      assert.equal(parsed.pathname, t.path, `path of ${raw}`);
      assert.equal(parsed.search, t.query, `query of ${raw}`);
      assert.equal(parsed.host, t.authority);
      // No dot segment, empty segment, backslash or encoded slash survives.
      assert(!/\/\.\.?(\/|$)|\/\/|\\|%2F|%5C/i.test(t.path), t.path);
      assert.equal(ok(t.url, t.authority).url, t.url);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("matchPath() lower-cases and drops ;parameters", () => {
  assert.equal(matchPath("/api/echo"), "/api/echo");
  assert.equal(matchPath("/API/Echo"), "/api/echo");
  assert.equal(matchPath("/api;jsessionid=1/echo;x"), "/api/echo");
});

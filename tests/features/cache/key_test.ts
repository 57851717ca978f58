import assert from "node:assert/strict";
import {
  compileKey,
  normalizeUrl,
  parseTags,
  varyValues,
} from "../../../lib/features/cache/key.ts";

const req = new Request("http://x/");

Deno.test("normalizeUrl() gives one key per equivalent URL", async (t) => {
  const cases: Array<[string, string]> = [
    ["http://Example.COM:80/a/b?x=1", "http://example.com/a/b?x=1"],
    ["https://example.com:443/", "https://example.com/"],
    ["http://example.com/a/./b/../c", "http://example.com/a/c"],
    ["http://example.com/%7euser/%2f%41", "http://example.com/~user/%2FA"],
    ["http://example.com/a?", "http://example.com/a"],
    ["http://h:8000/p?q=1&r=2", "http://h:8000/p?q=1&r=2"],
  ];
  for (const [input, expected] of cases) {
    await t.step(input, () => assert.equal(normalizeUrl(input), expected));
  }
});

Deno.test("compileKey() applies ignored params, sorting and custom keys", async (t) => {
  await t.step("ignored names and prefixes", () => {
    const key = compileKey({ ignoreQueryParams: ["fbclid", "utm_*"], sortQuery: false });
    assert.equal(key("http://h/p?a=1&utm_source=x&fbclid=y&b=2", req), "http://h/p?a=1&b=2");
    assert.equal(key("http://h/p?utm_x=1", req), "http://h/p");
  });
  await t.step("all params ignored", () => {
    const key = compileKey({ ignoreQueryParams: ["*"], sortQuery: false });
    assert.equal(key("http://h/p?a=1", req), "http://h/p");
  });
  await t.step("sorted", () => {
    const key = compileKey({ ignoreQueryParams: [], sortQuery: true });
    assert.equal(key("http://h/p?b=2&a=1", req), key("http://h/p?a=1&b=2", req));
  });
  await t.step("custom function; failures and bad output bypass", () => {
    const key = compileKey({
      ignoreQueryParams: [],
      sortQuery: false,
      custom: (r, url) => `${url.pathname}|${r.headers.get("x-tenant")}`,
    });
    const r = new Request("http://h/p?z=1", { headers: { "x-tenant": "t1" } });
    assert.equal(key(r.url, r), "~http:/p|t1");
    assert.equal(key("https://h/p?z=1", r), "~https:/p|t1", "the scheme stays in a custom key");
    assert.equal(
      compileKey({
        ignoreQueryParams: [],
        sortQuery: false,
        custom: () => {
          throw new Error("x");
        },
      })(r.url, r),
      null,
    );
    assert.equal(
      compileKey({ ignoreQueryParams: [], sortQuery: false, custom: () => "" })(r.url, r),
      null,
    );
    assert.equal(
      compileKey({ ignoreQueryParams: [], sortQuery: false, custom: () => "a".repeat(5000) })(
        r.url,
        r,
      ),
      null,
    );
  });
});

Deno.test("varyValues() and parseTags() normalise what they read", () => {
  const h = new Headers({ "accept-language": "  en,   fr ", "accept": "a" });
  assert.equal(
    varyValues(["accept", "accept-language", "x"], (n) => h.get(n)),
    "a\u0001en, fr\u0001\u0000",
  );
  const tags = parseTags(new Headers({ "cache-tag": "a, b,,c", "surrogate-key": "b d\te" }));
  assert.deepEqual(tags, ["a", "b", "c", "d", "e"]);
});

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  denoCacheTags,
  keepOutOfDenoCdn,
  MAX_DENO_TAGS,
  neverReason,
  pathTag,
} from "../../../lib/features/deploy/cdn.ts";
import { parseTags } from "../../../lib/features/cache/key.ts";

const nobody = () => false;
function ctx(path: string, extra: { authz?: boolean; variants?: Record<string, string> } = {}) {
  return {
    target: { path },
    authz: extra.authz ? { action: "x:read", rateClass: "standard", failedOpen: false } : undefined,
    variants: extra.variants ?? {},
  };
}
const get = { method: "GET", headers: new Headers() };

/** Path segments as clients spell them (any case, some punctuation). */
const segment = fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/);
const randomCase = (s: string, flips: boolean[]) =>
  [...s].map((ch, i) => (flips[i % flips.length] ? ch.toUpperCase() : ch)).join("");

Deno.test("neverReason(): the edge's own prefixes and the API are never cached, however spelled", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("/_edge", "/_central", "/api", "/items", "/crdt", "/events"),
      fc.array(segment, { maxLength: 4 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 100, max: 599 }),
      (prefix, rest, flips, status) => {
        const path = randomCase([prefix, ...rest].join("/"), flips);
        const why = neverReason(get, status, ctx(path), nobody);
        return why === "edge" || why === "upgrade";
      },
    ),
  );
});

Deno.test("neverReason(): authorization, experiments and upgrades keep any path out", () => {
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), (segments) => {
      const path = `/pages/${segments.join("/")}`;
      assert.equal(neverReason(get, 200, ctx(path), nobody), null, "a plain page may be cached");
      assert.equal(neverReason(get, 200, ctx(path, { authz: true }), nobody), "protected");
      assert.equal(neverReason(get, 401, ctx(path), () => true), "protected");
      assert.equal(neverReason(get, 200, ctx(path, { variants: { hero: "B" } }), nobody), "varied");
      const upgrade = { method: "GET", headers: new Headers({ upgrade: "websocket" }) };
      assert.equal(neverReason(upgrade, 101, ctx(path), nobody), "upgrade");
    }),
  );
});

Deno.test("pathTag() is one stable, valid platform tag per path", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (path) => {
      const tag = pathTag(path);
      return /^outpost-path-[0-9a-f]{16}$/.test(tag) && tag === pathTag(path);
    }),
  );
  const tags = new Set(Array.from({ length: 10_000 }, (_, i) => pathTag(`/products/${i}`)));
  assert.equal(tags.size, 10_000, "no two of 10,000 sibling paths share a tag");
});

Deno.test("denoCacheTags(): the path's tag first, then every origin tag once, within limits", () => {
  const tag = fc.stringMatching(/^[\x21-\x2b\x2d-\x7e]{1,40}$/);
  fc.assert(
    fc.property(
      fc.array(tag, { maxLength: 80 }),
      fc.array(tag, { maxLength: 80 }),
      fc.array(tag, { maxLength: 600 }),
      (cacheTags, surrogate, own) => {
        const headers = new Headers();
        if (cacheTags.length) headers.set("cache-tag", cacheTags.join(","));
        if (surrogate.length) headers.set("surrogate-key", surrogate.join(" "));
        if (own.length) headers.set("deno-cache-tag", own.join(","));
        const out = denoCacheTags(headers, "/p").split(",");
        assert.equal(out[0], pathTag("/p"));
        assert.equal(new Set(out).size, out.length, "no duplicates");
        assert.ok(out.length <= MAX_DENO_TAGS);
        const allowed = new Set([pathTag("/p"), ...own, ...parseTags(headers)]);
        for (const t of out) assert.ok(allowed.has(t), t);
        if (own.length + cacheTags.length + surrogate.length < MAX_DENO_TAGS - 64) {
          for (const t of parseTags(headers)) assert.ok(out.includes(t), `${t} dropped`);
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("keepOutOfDenoCdn() marks any response, copying only when it must", () => {
  const plain = new Response("x");
  assert.equal(keepOutOfDenoCdn(plain), plain);
  assert.equal(plain.headers.get("deno-cdn-cache-control"), "private, no-store");
  const immutable = Response.redirect("https://example.com/", 302);
  const marked = keepOutOfDenoCdn(immutable);
  assert.notEqual(marked, immutable);
  assert.equal(marked.status, 302);
  assert.equal(marked.headers.get("location"), "https://example.com/");
  assert.equal(marked.headers.get("deno-cdn-cache-control"), "private, no-store");
});

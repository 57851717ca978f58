/**
 * Deno Deploy's CDN answers before the edge runs: a protected or A/B-varied answer it stored would
 * be served to anyone, without authorization. Whatever the origin says (`public, max-age`, its own
 * `CDN-Cache-Control` or `Deno-CDN-Cache-Control`), such answers carry `Deno-CDN-Cache-Control:
 * private, no-store`, which the platform ranks above both (docs/deploy.md).
 */

import assert from "node:assert/strict";
import { bearer, productionEdge, raw } from "./_edge.ts";

const NEVER = "private, no-store";

/** An origin that wants everything cached everywhere, and tags it. */
function greedyOrigin(): { url: string } & AsyncDisposable {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(`page for ${new URL(req.url).pathname}`, {
      headers: {
        "content-type": "text/plain",
        "cache-control": "public, max-age=600, s-maxage=600",
        "cdn-cache-control": "public, max-age=3600",
        "deno-cdn-cache-control": "public, s-maxage=3600",
        "cache-tag": "product-42,catalog",
        "surrogate-key": "front-page  sale",
      },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** An edge as on Deno Deploy (the platform's variable set), with a protected page area. */
function deployEdge(originUrl: string) {
  return productionEdge(originUrl, {
    authz: {
      policy: {
        version: 1,
        roles: { viewer: { allow: ["*:read"], rateClass: "standard" } },
      },
      protect: [{ path: "/api/*" }, { path: "/account/*", methods: ["GET", "HEAD"] }],
    },
    experiments: [{
      name: "hero",
      paths: ["/landing/*"],
      variants: [{ name: "A", weight: 1 }, { name: "B", weight: 1 }],
    }],
  }, { DENO_DEPLOYMENT_ID: "security-suite" });
}

Deno.test("an authorized /api/* answer the origin calls public never reaches Deno Deploy's CDN", async () => {
  await using origin = greedyOrigin();
  await using e = await deployEdge(origin.url);
  const auth = await bearer(["viewer"]);
  for (
    const path of ["/api/products/42", "/API/products/42", "/%61pi/products/42", "/x/../api/p"]
  ) {
    const res = await raw(e.url, `GET ${path} HTTP/1.1`, auth);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers["deno-cdn-cache-control"], NEVER, path);
    assert.equal(res.headers["deno-cache-tag"], undefined, `${path} is tagged for the CDN`);
  }
  // Refused requests too (a 401 from the edge, or a 503 without a secret).
  const denied = await raw(e.url, "GET /api/products/42 HTTP/1.1");
  assert.equal(denied.status, 401);
  assert.equal(denied.headers["deno-cdn-cache-control"], NEVER);
});

Deno.test("a page under a protected path is kept out of the CDN, even from the edge's cache", async () => {
  await using origin = greedyOrigin();
  await using e = await deployEdge(origin.url);
  const auth = await bearer(["viewer"]);
  for (let i = 0; i < 2; i++) {
    const res = await raw(e.url, "GET /account/orders HTTP/1.1", auth);
    assert.equal(res.status, 200);
    assert.equal(res.headers["deno-cdn-cache-control"], NEVER, `request ${i}`);
  }
  const anonymous = await raw(e.url, "GET /account/orders HTTP/1.1");
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers["deno-cdn-cache-control"], NEVER);
});

Deno.test("an A/B-varied answer is never stored by the CDN, with or without the cookie", async () => {
  await using origin = greedyOrigin();
  await using e = await deployEdge(origin.url);
  const first = await raw(e.url, "GET /landing/spring HTTP/1.1");
  assert.equal(first.status, 200);
  assert.equal(first.headers["deno-cdn-cache-control"], NEVER);
  const cookie = first.headers["set-cookie"].split(";")[0];
  // The returning visitor gets no Set-Cookie (which alone would make the CDN bypass).
  const again = await raw(e.url, "GET /landing/spring HTTP/1.1", { cookie });
  assert.equal(again.headers["set-cookie"], undefined);
  assert.equal(again.headers["deno-cdn-cache-control"], NEVER);
});

Deno.test("the edge's own answers and WebSocket upgrades are never stored by the CDN", async () => {
  await using origin = greedyOrigin();
  await using e = await deployEdge(origin.url);
  for (
    const path of ["/_edge/health", "/_edge/whereami", "/items/42", "/events/counts", "/crdt/x"]
  ) {
    const res = await raw(e.url, `GET ${path} HTTP/1.1`);
    assert.equal(res.headers["deno-cdn-cache-control"], NEVER, path);
  }
  const upgrade = await raw(e.url, "GET /chat HTTP/1.1", {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
  });
  assert.equal(upgrade.headers["deno-cdn-cache-control"], NEVER);
});

Deno.test("a public page keeps the origin's CDN directives and carries its tags for purges", async () => {
  await using origin = greedyOrigin();
  await using e = await deployEdge(origin.url);
  const res = await raw(e.url, "GET /products/42 HTTP/1.1");
  assert.equal(res.status, 200);
  assert.equal(res.headers["deno-cdn-cache-control"], "public, s-maxage=3600");
  const tags = res.headers["deno-cache-tag"].split(",");
  assert.match(tags[0], /^outpost-path-[0-9a-f]{16}$/);
  assert.deepEqual(tags.slice(1).sort(), ["catalog", "front-page", "product-42", "sale"]);
});

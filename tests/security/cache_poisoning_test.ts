/**
 * Cache poisoning: pages planted over the edge's own routes, an absolute-form target whose Host
 * differs, and a response made for one scheme served to the other.
 */

import assert from "node:assert/strict";
import { bearer, productionEdge, raw, startRecordingOrigin } from "./_edge.ts";

const OWN = ["/items/42", "/crdt/counters/visits", "/events/counts", "/_central/stats"];

Deno.test("origin pages are never planted over the edge's own routes", async (t) => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url);
  for (const path of OWN) {
    await t.step(path, async () => {
      // Spellings that once missed the route, fell through to the cache and were stored.
      for (const spelling of [`/x/..${path}`, `/.${path}`, path.toUpperCase(), `/${path}`]) {
        const planted = await raw(e.url, `GET ${spelling} HTTP/1.1`);
        assert.notEqual(planted.headers["x-cache"], "HIT", spelling);
      }
      const real = await raw(e.url, `GET ${path} HTTP/1.1`);
      assert.notEqual(real.body, "ORIGIN PAGE", `${path} came from the origin's planted page`);
      assert.equal(real.headers["x-cache"], undefined, `${path} went through the cache`);
    });
  }
  assert.equal(e.edge.cache!.memory.count, 0, "nothing of the edge's own prefixes was stored");
});

Deno.test("an absolute-form target's authority is the one forwarded and keyed", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url);
  const port = new URL(e.url).port;
  const planted = await raw(e.url, `GET http://edge.test:${port}/page HTTP/1.1`, {
    host: "evil.example",
  });
  assert.equal(planted.status, 200);
  assert.equal(origin.seen.at(-1)!.headers["x-forwarded-host"], `edge.test:${port}`);
  assert.doesNotMatch(planted.body, /evil\.example/);
  // A normal visitor of edge.test gets a page built for edge.test, from the cache or not.
  const visitor = await raw(e.url, "GET /page HTTP/1.1", { host: `edge.test:${port}` });
  assert.doesNotMatch(visitor.body, /evil/);
  assert.match(visitor.body, /edge\.test/);
  // An authorized API call: the origin never learns the ignored Host either.
  const auth = await bearer(["admin"]);
  await raw(e.url, `GET http://edge.test:${port}/api/echo HTTP/1.1`, {
    host: "evil.example",
    ...auth,
  });
  assert.equal(origin.seen.at(-1)!.headers["x-forwarded-host"], `edge.test:${port}`);
});

Deno.test("an invalid Host is refused before anything runs", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url);
  for (const host of ["a/b", "a@b", "evil.example:99999", "x y"]) {
    const res = await raw(e.url, "GET /page HTTP/1.1", { host });
    assert.equal(res.status, 400, host);
  }
  assert.equal(origin.seen.length, 0);
});

Deno.test("a response made for http is never served to https clients (scheme in the key)", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url, {}, { TRUSTED_PROXIES: "127.0.0.1" });
  const http = await raw(e.url, "GET /redirect HTTP/1.1", { "x-forwarded-proto": "http" });
  assert.equal(http.status, 301);
  const again = await raw(e.url, "GET /redirect HTTP/1.1", { "x-forwarded-proto": "http" });
  assert.equal(again.headers["x-cache"], "HIT", "the redirect is cached for http clients");
  const https = await raw(e.url, "GET /redirect HTTP/1.1", { "x-forwarded-proto": "https" });
  assert.equal(https.status, 200, "https clients do not get the http redirect (a loop)");
  assert.equal(https.body, "secure");
});

Deno.test("an absolute-form https target does not make a plain connection https", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url);
  const port = new URL(e.url).port;
  await raw(e.url, `GET https://127.0.0.1:${port}/redirect HTTP/1.1`);
  assert.equal(origin.seen.at(-1)!.headers["x-forwarded-proto"], "http");
});

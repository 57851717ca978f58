/**
 * What the edge forwards: method and URL overrides, request loops, body sizes, and what a failed
 * forward tells the client.
 */

import assert from "node:assert/strict";
import { deadOrigin } from "../helpers.ts";
import { ADMIN, bearer, productionEdge, raw, startRecordingOrigin } from "./_edge.ts";
import { POLICY } from "../features/authz/_fixtures.ts";

const OVERRIDES = {
  "x-http-method-override": "DELETE",
  "x-http-method": "DELETE",
  "x-method-override": "DELETE",
  "x-original-method": "DELETE",
  "x-original-url": "/admin/drop",
  "x-rewrite-url": "/admin/drop",
};

Deno.test("method and URL override headers never reach the origin by default", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url);
  const viewer = await bearer(["viewer"]);
  for (const method of ["GET", "POST"]) {
    const res = await raw(e.url, `${method} /api/echo HTTP/1.1`, { ...viewer, ...OVERRIDES });
    assert.ok(res.status === 200 || res.status === 403, `${method}: ${res.status}`);
  }
  for (const seen of origin.seen) {
    for (const name of Object.keys(OVERRIDES)) assert.equal(seen.headers[name], undefined, name);
  }
});

Deno.test("an allowed method override is authorized as the method it names", async () => {
  await using origin = startRecordingOrigin();
  const policy = {
    ...POLICY,
    roles: { ...POLICY.roles, writer: { allow: ["echo:write", "echo:read"] } },
  };
  await using e = await productionEdge(origin.url, {
    authz: { policy },
    proxy: { methodOverrideHeaders: ["X-HTTP-Method-Override"] },
  });
  const writer = await bearer(["writer"]);
  const tunneled = await raw(e.url, "POST /api/echo HTTP/1.1", {
    ...writer,
    "x-http-method-override": "DELETE",
  });
  assert.equal(tunneled.status, 403, "a tunneled DELETE needs echo:delete");
  const plain = await raw(e.url, "POST /api/echo HTTP/1.1", writer);
  assert.equal(plain.status, 200);
  const read = await raw(e.url, "POST /api/echo HTTP/1.1", {
    ...writer,
    "x-http-method-override": "GET",
  });
  assert.equal(read.status, 200);
  assert.equal(origin.seen.at(-1)!.headers["x-http-method-override"], "GET");
  const bad = await raw(e.url, "POST /api/echo HTTP/1.1", {
    ...writer,
    "x-http-method-override": "DEL ETE",
  });
  assert.equal(bad.status, 400);
});

Deno.test("a looping request is refused however long its Via header is", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url);
  const hops = Array.from({ length: 301 }, (_, i) => `1.1 outpost-r${i}`).join(", ");
  assert.ok(hops.length > 4096);
  const res = await raw(e.url, "GET /page HTTP/1.1", { via: hops });
  assert.equal(res.status, 508);
  const short = await raw(e.url, "GET /page HTTP/1.1", {
    via: "1.1 a, 1.1 outpost-a, 1.1 outpost-b, 1.1 outpost-c, 1.1 outpost-d",
  });
  assert.equal(short.status, 508);
  assert.equal(origin.seen.length, 0);
});

Deno.test("request bodies past proxy.maxBodyBytes are refused with 413", async () => {
  await using origin = startRecordingOrigin();
  await using e = await productionEdge(origin.url, { proxy: { maxBodyBytes: 1024 } });
  const auth = await bearer(["admin"]);
  const big = "x".repeat(2048);
  const declared = await raw(e.url, "POST /api/echo HTTP/1.1", auth, big);
  assert.equal(declared.status, 413);
  assert.equal(declared.headers["content-type"], "application/problem+json");
  const chunks = `800\r\n${"y".repeat(2048)}\r\n0\r\n\r\n`;
  const streamed = await raw(
    e.url,
    "POST /api/echo HTTP/1.1",
    { ...auth, "transfer-encoding": "chunked" },
    chunks,
  );
  assert.equal(streamed.status, 413);
  const small = await raw(e.url, "POST /api/echo HTTP/1.1", auth, "x".repeat(512));
  assert.equal(small.status, 200);
  // A client's oversized body says nothing about the origin's health.
  assert.equal(e.edge.health.snapshot()[origin.url]?.state ?? "closed", "closed");
});

Deno.test("public 5xx bodies never reveal origin addresses or socket errors", async () => {
  const dead = deadOrigin();
  await using e = await productionEdge(dead, { proxy: { maxAttempts: 2 } });
  for (const path of ["/page", "/anything?x=1", "/a", "/b"]) {
    const res = await raw(e.url, `GET ${path} HTTP/1.1`);
    assert.ok(res.status >= 500, `${path}: ${res.status}`);
    const port = new URL(dead).port;
    assert.doesNotMatch(res.body, new RegExp(`127\\.0\\.0\\.1|:${port}|refused|os error`, "i"));
    const problem = JSON.parse(res.body);
    assert.ok(problem.request_id, "the request id leads to the log line with the detail");
  }
  // Nor does public health, once the origin is out of rotation; its details are for operators.
  const port = new URL(dead).port;
  const health = await raw(e.url, "GET /_edge/health HTTP/1.1");
  assert.match(health.body, /ap-southeast/);
  assert.doesNotMatch(health.body, new RegExp(`127\\.0\\.0\\.1|:${port}|refused|os error`, "i"));
  assert.equal((await raw(e.url, "GET /_edge/health?verbose=1 HTTP/1.1")).status, 401);
  const verbose = await raw(e.url, "GET /_edge/health?verbose=1 HTTP/1.1", {
    authorization: `Bearer ${ADMIN}`,
  });
  assert.match(verbose.body, new RegExp(`:${port}`), "operators see the addresses");
});

Deno.test("the admin token is one validated secret for every operator endpoint", async () => {
  await using origin = startRecordingOrigin();
  // A token from a file or a secret store often ends with a newline.
  await using e = await productionEdge(origin.url, {}, { ADMIN_TOKEN: `${ADMIN}\n` });
  const auth = { authorization: `Bearer ${ADMIN}` };
  const metrics = await raw(e.url, "GET /_edge/metrics HTTP/1.1", auth);
  assert.equal(metrics.status, 200);
  const purge = await raw(
    e.url,
    "POST /_edge/purge HTTP/1.1",
    { ...auth, "content-type": "application/json" },
    '{"urls":["/page"]}',
  );
  assert.equal(purge.status, 200, purge.body);
  for (const path of ["/_edge/metrics", "/_edge/stats", "/_edge/cache"]) {
    assert.equal((await raw(e.url, `GET ${path} HTTP/1.1`)).status, 401, path);
  }
  const noToken = await raw(
    e.url,
    "POST /_edge/purge HTTP/1.1",
    { "content-type": "application/json" },
    '{"urls":["/page"]}',
  );
  assert.equal(noToken.status, 401);
});

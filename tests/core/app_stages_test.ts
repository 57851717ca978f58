/**
 * The cache's synchronous memory-hit path runs before routing; these tests check it never skips
 * a routed stage that would have acted on the request (authorization, automatic tracking), and
 * that a fast hit is still measured.
 */

import assert from "node:assert/strict";
import type { EdgeConfigInput } from "../../lib/core/config.ts";
import { get, makeConfig, startEdge, startOrigin } from "../helpers.ts";
import { POLICY, SECRET, token } from "../features/authz/_fixtures.ts";

Deno.test("a cached page under a protected path still needs a token on a memory hit", async () => {
  await using origin = startOrigin();
  const config = makeConfig(origin.url, {
    authz: { policy: POLICY, protect: [{ path: "/cacheable/private/*" }] },
  } as Partial<EdgeConfigInput>);
  await using e = await startEdge(config, { secrets: { JWT_SECRET: SECRET } });
  const auth = { authorization: `Bearer ${await token({ sub: "alice", roles: ["viewer"] })}` };
  const url = `${e.url}/cacheable/private/report?max_age=600`;
  const first = await get(url, { headers: auth });
  assert.equal(first.res.status, 200);
  const second = await get(url, { headers: auth });
  assert.equal(second.res.headers.get("x-cache"), "HIT");
  const anonymous = await get(url);
  assert.equal(anonymous.res.status, 401, "the fast path must not skip authorization");
  assert.equal(origin.count("/cacheable/private/report"), 1);
});

Deno.test("an unprotected cached page is served from memory and measured", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  const url = `${e.url}/cacheable/open?max_age=600`;
  await get(url);
  const hit = await get(url);
  assert.equal(hit.res.headers.get("x-cache"), "HIT");
  assert.ok(hit.res.headers.get("x-request-id"));
  assert.match(hit.res.headers.get("server-timing") ?? "", /edge;dur=/);
  const prometheus = await (await fetch(`${e.url}/_edge/metrics`)).text();
  assert.match(prometheus, /cache="HIT"/);
});

Deno.test("automatic tracking still records a page served from memory", async () => {
  await using origin = startOrigin();
  const config = makeConfig(origin.url, {
    analytics: { track: { paths: ["/cacheable/*"] } },
  } as Partial<EdgeConfigInput>);
  await using e = await startEdge(config);
  const url = `${e.url}/cacheable/tracked?max_age=600`;
  await get(url);
  const hit = await get(url);
  assert.equal(hit.res.headers.get("x-cache"), "HIT");
  await e.edge.analytics.edge?.tracker.flush();
  const counts = await get(`${e.url}/events/counts?minutes=5`);
  assert.equal(counts.res.status, 200, JSON.stringify(counts.body));
  assert.equal(
    JSON.stringify(counts.body).match(/"page_view":(\d+)/)?.[1],
    "2",
    JSON.stringify(counts.body),
  );
});

Deno.test("GET /_edge/cache is an operator endpoint behind ADMIN_TOKEN", async () => {
  await using origin = startOrigin();
  const config = makeConfig(origin.url, {}, { ADMIN_TOKEN: "admin-token-0123456789" });
  await using e = await startEdge(config);
  assert.equal((await get(`${e.url}/_edge/cache`)).res.status, 401);
  const wrong = await get(`${e.url}/_edge/cache`, { headers: { authorization: "Bearer nope" } });
  assert.equal(wrong.res.status, 403);
  const ok = await get(`${e.url}/_edge/cache`, {
    headers: { authorization: "Bearer admin-token-0123456789" },
  });
  assert.equal(ok.res.status, 200);
});

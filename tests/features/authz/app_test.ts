import assert from "node:assert/strict";
import type { EdgeConfigInput } from "../../../lib/core/config.ts";
import { get, makeConfig, startEdge, startOrigin } from "../../helpers.ts";
import { abiModule, UNREACHABLE } from "./_wasm.ts";
import { b64url, POLICY, SECRET, token } from "./_fixtures.ts";

const CLASSES = {
  standard: { limit: 60, windowS: 60, burst: 5 },
  premium: { limit: 600, windowS: 60 },
  anonymous: { limit: 60, windowS: 60, burst: 2 },
};

function config(origin: string, authz: Record<string, unknown> = {}) {
  return makeConfig(origin, {
    authz: { policy: POLICY, rateLimit: { classes: CLASSES }, ...authz },
  } as Partial<EdgeConfigInput>);
}

function bearer(t: string): Record<string, string> {
  return { authorization: `Bearer ${t}` };
}

type Echo = { headers: Record<string, string> };
type Problem = { code: string; detail: string; status: number };

Deno.test("protected routes answer 401 without a valid token, before reaching the origin", async (t) => {
  await using origin = startOrigin();
  await using e = await startEdge(config(origin.url), { secrets: { JWT_SECRET: SECRET } });
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Record<string, string>, RegExp][] = [
    ["no token", {}, /^Bearer realm="outpost"$/],
    ["malformed", bearer("abc"), /error="invalid_token"/],
    [
      "alg none",
      bearer(`${b64url({ alg: "none" })}.${b64url({ sub: "a", exp: now + 60 })}.`),
      /invalid_token/,
    ],
    ["expired", bearer(await token({ sub: "a" }, { nowS: now - 7200 })), /Token expired/],
    ["wrong key", bearer(await token({ sub: "a" }, { secret: "x".repeat(40) })), /signature/],
    ["oversized header", bearer(`${"a".repeat(6000)}.b.c`), /invalid_token/],
  ];
  for (const [name, headers, challenge] of cases) {
    await t.step(name, async () => {
      const { res, body } = await get(`${e.url}/api/echo`, { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.match(res.headers.get("www-authenticate") ?? "", challenge);
      assert.ok((body as Problem).detail);
    });
  }
  assert.equal(origin.count("/api/echo"), 0);
});

Deno.test("an allowed request reaches the origin with the user id and rate-limit headers", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(config(origin.url), { secrets: { JWT_SECRET: SECRET } });
  const { res, body } = await get(`${e.url}/api/echo`, {
    headers: {
      ...bearer(await token({ sub: "alice", roles: ["viewer"] })),
      "x-user-id": "mallory",
    },
  });
  assert.equal(res.status, 200);
  assert.equal((body as Echo).headers["x-user-id"], "alice");
  assert.equal(res.headers.get("ratelimit-policy"), '"standard";q=60;w=60');
  assert.equal(res.headers.get("ratelimit"), '"standard";r=4;t=1');
  assert.match(res.headers.get("server-timing") ?? "", /authz;dur=[\d.]+/);
  assert.equal(
    e.edge.metrics.counter("outpost_authz_decisions_total", "").get({ outcome: "allowed" }),
    1,
  );
});

Deno.test("403 carries the module's reason and code", async (t) => {
  await using origin = startOrigin();
  await using e = await startEdge(config(origin.url), { secrets: { JWT_SECRET: SECRET } });
  const viewer = bearer(await token({ sub: "v", roles: ["viewer"] }));
  const editor = bearer(await token({ sub: "ed", roles: ["editor"] }));
  await t.step("permission_denied", async () => {
    const { res, body } = await get(`${e.url}/api/echo`, {
      method: "POST",
      headers: viewer,
      body: "x",
    });
    assert.equal(res.status, 403);
    assert.equal((body as Problem).code, "permission_denied");
    assert.equal((body as Problem).detail, "No role of this user allows echo:write");
    assert.ok(res.headers.get("ratelimit"));
  });
  await t.step("geo_restricted from the client's country", async () => {
    const { res, body } = await get(`${e.url}/items/1`, {
      method: "PUT",
      headers: { ...editor, "cf-ipcountry": "KP" },
      body: "{}",
    });
    assert.equal(res.status, 403);
    assert.equal((body as Problem).code, "geo_restricted");
    assert.equal((body as Problem).detail, "items:write is not available in KP");
  });
  await t.step("the same request from elsewhere passes authorization", async () => {
    const { res } = await get(`${e.url}/items/1`, {
      method: "PUT",
      headers: { ...editor, "cf-ipcountry": "FR" },
      body: "{}",
    });
    assert.notEqual(res.status, 403);
    assert.notEqual(res.status, 401);
  });
  assert.equal(origin.count("/api/echo"), 0);
});

Deno.test("429 with Retry-After once the burst is spent; allowed again after it", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(config(origin.url), { secrets: { JWT_SECRET: SECRET } });
  const headers = bearer(await token({ sub: "busy", roles: ["viewer"] }));
  for (let i = 0; i < 5; i++) {
    const { res } = await get(`${e.url}/api/echo`, { headers });
    assert.equal(res.status, 200, `request ${i}`);
  }
  const { res, body } = await get(`${e.url}/api/echo`, { headers });
  assert.equal(res.status, 429);
  assert.equal((body as Problem).code, "rate_limited");
  assert.equal(res.headers.get("retry-after"), "1");
  assert.equal(res.headers.get("ratelimit"), '"standard";r=0;t=5');
  assert.equal(origin.count("/api/echo"), 5);
  e.clock.advance(1000);
  assert.equal((await get(`${e.url}/api/echo`, { headers })).res.status, 200);
  // Another user has an allowance of their own.
  const other = bearer(await token({ sub: "calm", roles: ["viewer"] }));
  assert.equal((await get(`${e.url}/api/echo`, { headers: other })).res.status, 200);
});

Deno.test("only protected patterns are authorized", async (t) => {
  await using origin = startOrigin();
  await using e = await startEdge(config(origin.url), { secrets: { JWT_SECRET: SECRET } });
  await t.step("GET /users/7 is not protected and carries no rate-limit headers", async () => {
    const { res } = await get(`${e.url}/users/7`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("ratelimit"), null);
  });
  await t.step("reads of /items/* are not protected; writes are", async () => {
    assert.notEqual((await get(`${e.url}/items/1`)).res.status, 401);
    assert.equal((await get(`${e.url}/items/1`, { method: "DELETE" })).res.status, 401);
    assert.equal(
      (await get(`${e.url}/crdt/counter/x`, { method: "POST", body: "{}" })).res.status,
      401,
    );
  });
  await t.step("/api itself is covered by /api/*", async () => {
    assert.equal((await get(`${e.url}/api`)).res.status, 401);
  });
});

Deno.test("a client cannot claim a user id on an unprotected route", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(config(origin.url, { protect: [{ path: "/api/admin/*" }] }), {
    secrets: { JWT_SECRET: SECRET },
  });
  const { res, body } = await get(`${e.url}/api/echo`, { headers: { "x-user-id": "admin" } });
  assert.equal(res.status, 200);
  assert.equal((body as Echo).headers["x-user-id"], undefined);
  assert.equal((await get(`${e.url}/api/admin/x`)).res.status, 401);
});

Deno.test("anonymous requests, when allowed, are limited per client IP", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(
    config(origin.url, {
      allowAnonymous: true,
      policy: { roles: { anonymous: { allow: ["*:read"] } } },
    }),
    { secrets: { JWT_SECRET: SECRET } },
  );
  const first = await get(`${e.url}/api/echo`);
  assert.equal(first.res.status, 200);
  assert.equal((first.body as Echo).headers["x-user-id"], "");
  assert.equal(first.res.headers.get("ratelimit-policy"), '"anonymous";q=60;w=60');
  assert.equal((await get(`${e.url}/api/echo`)).res.status, 200);
  assert.equal((await get(`${e.url}/api/echo`)).res.status, 429);
  // Permission is decided before the rate: a write is refused as such.
  assert.equal((await get(`${e.url}/api/echo`, { method: "POST", body: "x" })).res.status, 403);
  const bad = await get(`${e.url}/api/echo`, { headers: bearer("nope") });
  assert.equal(bad.res.status, 401, "an invalid token is still refused");
});

Deno.test("a module that traps denies with 503, or lets fail-open routes through", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(config(origin.url, { failOpen: ["/api/public/*"] }), {
    secrets: { JWT_SECRET: SECRET },
    authzWasm: abiModule(UNREACHABLE),
  });
  const headers = bearer(await token({ sub: "alice", roles: ["viewer"] }));
  const closed = await get(`${e.url}/api/echo`, { headers });
  assert.equal(closed.res.status, 503);
  assert.equal((closed.body as Problem).code, "authz_unavailable");
  assert.ok(closed.res.headers.get("retry-after"));
  const open = await get(`${e.url}/api/public/echo`, { headers });
  assert.notEqual(open.res.status, 503);
  assert.equal(origin.count("/api/echo"), 0);
  assert.equal(origin.count("/api/public/echo"), 1);
  const faults = e.edge.metrics.counter("outpost_authz_faults_total", "");
  assert.equal(faults.get({ kind: "trap" }), 2);
  assert.equal((await get(`${e.url}/_edge/health`)).res.status, 200, "the node keeps serving");
});

Deno.test("a module that cannot load leaves the node serving, protected routes at 503", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(config(origin.url), {
    secrets: { JWT_SECRET: SECRET },
    authzWasm: new TextEncoder().encode("not a module"),
  });
  assert.equal(e.edge.authz?.module, null);
  const headers = bearer(await token({ sub: "alice", roles: ["viewer"] }));
  assert.equal((await get(`${e.url}/api/echo`, { headers })).res.status, 503);
  assert.equal((await get(`${e.url}/users/1`)).res.status, 200);
  const failures = e.edge.metrics.counter("outpost_authz_module_load_failures_total", "");
  assert.equal(failures.get({ reason: "ModuleLoadError" }), 1);
  // Health says so at once, with two requests in the window (too few to judge by rates).
  const health = await get(`${e.url}/_edge/health`);
  assert.equal(health.res.status, 503);
  const h = health.body as { status: string; conditions: object; reasons: string[] };
  assert.equal(h.status, "unhealthy");
  assert.deepEqual(h.conditions, { "authz.module": "unhealthy" });
  assert.match(h.reasons[0], /^the authorization policy module did not load/);
});

Deno.test("a live policy update with errors is rejected and the old policy kept", async (t) => {
  await using origin = startOrigin();
  const dir = await Deno.makeTempDir();
  const path = `${dir}/policy.json`;
  await Deno.writeTextFile(path, JSON.stringify(POLICY));
  await using e = await startEdge(config(origin.url, { policy: undefined, policyPath: path }), {
    secrets: { JWT_SECRET: SECRET },
  });
  const viewer = bearer(await token({ sub: "v", roles: ["viewer"] }));
  assert.equal((await get(`${e.url}/api/echo`, { headers: viewer })).res.status, 200);
  await t.step("a bad file is refused", async () => {
    await Deno.writeTextFile(path, JSON.stringify({ roles: { viewer: { allow: ["read"] } } }));
    await e.edge.jobs.runNow("authz-policy");
    assert.equal((await get(`${e.url}/api/echo`, { headers: viewer })).res.status, 200);
    const loads = e.edge.metrics.counter("outpost_authz_policy_loads_total", "");
    assert.equal(loads.get({ outcome: "rejected" }), 1);
  });
  await t.step("a good file is applied", async () => {
    await Deno.writeTextFile(
      path,
      JSON.stringify({ roles: { viewer: { allow: ["other:read"] } } }),
    );
    await e.edge.jobs.runNow("authz-policy");
    assert.equal((await get(`${e.url}/api/echo`, { headers: viewer })).res.status, 403);
  });
  await t.step("updatePolicy() names the bad field", () => {
    const r = e.edge.authz!.updatePolicy({ roles: { viewer: { rateClass: "gold" } } });
    assert.equal(r.ok, false);
    assert.match(
      (r as { error: string }).error,
      /roles\.viewer\.rateClass: Unknown rate class: gold/,
    );
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("createApp() stops on a bad policy at start-up, naming the field", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/policy.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({ roles: {}, geo: [{ actions: ["x:y"], deny: ["ZZ"] }] }),
  );
  await assert.rejects(
    () =>
      startEdge(config("http://127.0.0.1:1", { policy: undefined, policyPath: path }), {
        secrets: { JWT_SECRET: SECRET },
      }),
    /Invalid config: authz\.policyPath \(.*\): geo\.0\.deny\.0: Not an ISO 3166-1 alpha-2 country code/,
  );
  await Deno.remove(dir, { recursive: true });
});

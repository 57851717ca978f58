import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AppEnv, EdgeRequestContext } from "../../../lib/core/request.ts";
import { createAuthz } from "../../../lib/features/authz/setup.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import { loadConfig } from "../../../lib/core/config.ts";
import { problemHandler } from "../../../lib/platform/http/errors.ts";
import { canonicalTarget, isRefusal } from "../../../lib/platform/http/target.ts";
import { Jobs } from "../../../lib/core/jobs.ts";
import { silentLogger } from "../../../lib/core/log.ts";
import { MetricsRegistry } from "../../../lib/core/metrics.ts";
import { POLICY, SECRET, token } from "./_fixtures.ts";

function context(url: string): EdgeRequestContext {
  const target = canonicalTarget(url, new URL(url).host);
  if (isRefusal(target)) throw new Error(target.detail);
  return {
    requestId: "t",
    startedAt: 0,
    target,
    href: target.url,
    peerIp: "127.0.0.1",
    peerTrusted: true,
    clientIp: "127.0.0.1",
    clientProto: "http",
    geo: { country: "FR" } as EdgeRequestContext["geo"],
    variants: {},
    originHeaders: {},
    timings: [],
    originWaitMs: 0,
  };
}

Deno.test("authorization() sets ctx.userId for later stages and stamps immutable responses", async () => {
  await using kv = await Deno.openKv(":memory:");
  const config = loadConfig({
    env: { KV_PATH: ":memory:", OUTPOST_MODE: "development" },
    module: { authz: { policy: POLICY, protect: [{ path: "/api/*" }, { path: "/api/admin/*" }] } },
  });
  const authz = createAuthz({
    config,
    kv,
    clock: new ManualClock(Date.now()),
    log: silentLogger,
    metrics: new MetricsRegistry(),
    jobs: new Jobs(silentLogger),
    jwtSecret: SECRET,
  })!;
  const app = new Hono<AppEnv>();
  app.onError(problemHandler(() => {}));
  authz.register(app);
  let seen: EdgeRequestContext | null = null;
  app.get("/api/*", (c) => {
    seen = c.env.ctx;
    // A response whose headers cannot be changed, as fetch() returns from an origin.
    return fetchLike(c.env.ctx.userId ?? "");
  });
  const headers = { authorization: `Bearer ${await token({ sub: "alice", roles: ["viewer"] })}` };
  const ctx = context("http://edge/api/admin/x");
  const res = await app.fetch(new Request("http://edge/api/admin/x", { headers }), { ctx });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "alice");
  assert.equal(seen!.userId, "alice");
  assert.deepEqual(seen!.authz, { action: "admin:read", rateClass: "standard", failedOpen: false });
  assert.equal(ctx.originHeaders["X-User-Id"], "alice");
  assert.equal(ctx.timings.filter((t) => t.startsWith("authz;")).length, 1, "decided once");
  assert.ok(res.headers.get("ratelimit"));
});

function fetchLike(body: string): Response {
  const res = Response.error();
  return Object.defineProperty(new Response(body), "headers", { value: res.headers });
}

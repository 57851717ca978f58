import assert from "node:assert/strict";
import { ConfigError } from "../../lib/platform/config/errors.ts";
import { get, makeConfig, startEdge, startOrigin } from "../helpers.ts";

const TOKEN = "s3cret-token-0123456789";
const OPERATOR = ["/_edge/metrics", "/_edge/stats"];

Deno.test("operator endpoints need ADMIN_TOKEN when it is set", async (t) => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url, {}, { ADMIN_TOKEN: TOKEN }));
  await t.step("no token: 401 with WWW-Authenticate", async () => {
    for (const path of OPERATOR) {
      const { res, body } = await get(`${e.url}${path}`);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="outpost"');
      assert.equal((body as { code: string }).code, "admin_token_required");
    }
  });
  await t.step("a wrong token: 403, whatever its length", async () => {
    for (const wrong of ["x", TOKEN.slice(0, -1), TOKEN + "x", "Z".repeat(2000)]) {
      const { res } = await get(`${e.url}/_edge/stats`, {
        headers: { authorization: `Bearer ${wrong}` },
      });
      assert.ok([401, 403].includes(res.status), `${wrong.length}: ${res.status}`);
    }
  });
  await t.step("the right token as a bearer header", async () => {
    for (const path of OPERATOR) {
      const bearer = await get(`${e.url}${path}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(bearer.res.status, 200, path);
    }
  });
  await t.step("never in the URL, where it would reach logs: ?token= is not read", async () => {
    for (const path of OPERATOR) {
      const { res, body } = await get(`${e.url}${path}?token=${TOKEN}`);
      assert.equal(res.status, 401, path);
      assert.equal((body as { code: string }).code, "admin_token_required");
    }
  });
  await t.step("health and the dashboard's page and assets stay public", async () => {
    for (
      const path of [
        "/_edge/health",
        "/_edge/dashboard",
        "/_edge/dashboard/app.js",
        "/_edge/dashboard/app.css",
      ]
    ) {
      assert.equal((await get(`${e.url}${path}`)).res.status, 200, path);
    }
    const page = await get(`${e.url}/_edge/dashboard`);
    assert.ok(!page.text.includes(TOKEN));
    assert.match(page.text, /<form id="signin"/, "the page signs in itself");
  });
});

Deno.test("without ADMIN_TOKEN operator endpoints are open in development, closed in production", async () => {
  await using origin = startOrigin();
  await using dev = await startEdge(makeConfig(origin.url));
  assert.equal((await get(`${dev.url}/_edge/stats`)).res.status, 200);
  await using prod = await startEdge(makeConfig(origin.url, {}, { OUTPOST_MODE: "production" }));
  const { res, body } = await get(`${prod.url}/_edge/metrics`);
  assert.equal(res.status, 503);
  assert.equal((body as { code: string }).code, "admin_not_configured");
  const health = await get(`${prod.url}/_edge/health`);
  assert.equal(health.res.status, 200);
  const h = health.body as { status: string; reasons: string[] };
  assert.equal(h.status, "degraded");
  assert.ok(h.reasons.some((r) => r.startsWith("ADMIN_TOKEN is not set")), h.reasons.join("; "));
});

Deno.test("loadConfig() takes the admin token only from the environment", async (t) => {
  await t.step("from a config module: refused", () => {
    assert.throws(
      () => makeConfig("http://127.0.0.1:1", { metrics: { adminToken: TOKEN } } as never),
      (e: Error) => e instanceof ConfigError && /ADMIN_TOKEN in the environment/.test(e.message),
    );
  });
  await t.step("too short: refused with the field named", () => {
    assert.throws(
      () => makeConfig("http://127.0.0.1:1", {}, { ADMIN_TOKEN: "short" }),
      /metrics\.adminToken \(from ADMIN_TOKEN\): Must be at least 16 characters/,
    );
  });
});

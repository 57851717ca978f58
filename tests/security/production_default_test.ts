/**
 * `deno task start` (and anything but `deno task dev`) runs in production: no development secret,
 * no trusted loopback, operator endpoints closed. Missing secrets close what needs them (503 with a
 * reason, health says so); they never open anything, and the published development constants are
 * refused outright.
 */

import assert from "node:assert/strict";
import { freePort, waitForHttp } from "../../bench/lib/process.ts";
import { spawnMain } from "../e2e/_spawn.ts";
import { DEV_JWT_SECRET } from "../../lib/features/authz/setup.ts";
import { DEV_CENTRAL_TOKEN } from "../../lib/features/analytics/config.ts";
import { mintToken } from "../../tools/token.ts";

Deno.test("main.ts without OUTPOST_MODE is production and fails closed without secrets", async () => {
  const port = freePort();
  const child = spawnMain({
    PORT: String(port),
    ORIGIN_PORT: String(freePort()),
    KV_PATH: ":memory:",
    LOG_LEVEL: "warn",
  });
  const err = new Response(child.stderr).text();
  const out = new Response(child.stdout).text();
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/_edge/health`);
    const health = await (await fetch(`${base}/_edge/health`)).json();
    assert.equal(health.status, "degraded");
    assert.ok(health.reasons.some((r: string) => r.startsWith("JWT_SECRET is not set")));
    assert.ok(health.reasons.some((r: string) => r.startsWith("ADMIN_TOKEN is not set")));

    const api = await fetch(`${base}/api/echo`);
    assert.equal(api.status, 503);
    assert.equal((await api.json()).code, "authz_not_configured");
    // A token signed with the published development secret opens nothing.
    const devToken = await mintToken({ sub: "mallory", roles: ["admin"] }, DEV_JWT_SECRET);
    const forged = await fetch(`${base}/api/echo`, {
      headers: { authorization: `Bearer ${devToken}` },
    });
    assert.equal(forged.status, 503);
    await forged.body?.cancel();

    const metrics = await fetch(`${base}/_edge/metrics`);
    assert.equal(metrics.status, 503);
    assert.equal((await metrics.json()).code, "admin_not_configured");
    const central = await fetch(`${base}/_central/stats`, {
      headers: { authorization: `Bearer ${DEV_CENTRAL_TOKEN}` },
    });
    assert.equal(central.status, 401, "the development collector token is not accepted");
    await central.body?.cancel();

    // Loopback is not a trusted proxy in production: location headers from it are ignored.
    const where = await (await fetch(`${base}/_edge/whereami`, {
      headers: { "x-user-lat": "35.68", "x-user-lon": "139.69" },
    })).json();
    assert.notEqual(where.source, "user-headers");
  } finally {
    child.kill("SIGTERM");
  }
  await child.status;
  await out;
  const log = await err + await out;
  assert.match(log, /JWT_SECRET is not set/);
});

Deno.test("main.ts in production refuses the published development constants by name", async (t) => {
  for (
    const [name, env, message] of [
      ["JWT_SECRET", { JWT_SECRET: DEV_JWT_SECRET }, /authz\.jwt \(from JWT_SECRET\)/],
      ["CENTRAL_TOKEN", { CENTRAL_TOKEN: DEV_CENTRAL_TOKEN }, /analytics\.centralToken/],
    ] as const
  ) {
    await t.step(name, async () => {
      const child = spawnMain({
        PORT: String(freePort()),
        KV_PATH: ":memory:",
        LOG_LEVEL: "warn",
        ...env,
      });
      const [status, , err] = await Promise.all([
        child.status,
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      assert.equal(status.code, 1);
      assert.match(err, message);
      assert.match(err, /cannot be used in production/);
    });
  }
});

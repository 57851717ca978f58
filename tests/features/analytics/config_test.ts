import assert from "node:assert/strict";
import { ConfigError } from "../../../lib/platform/config/errors.ts";
import { loadConfig } from "../../../lib/core/config.ts";
import { DEV_CENTRAL_TOKEN } from "../../../lib/features/analytics/config.ts";
import { centralTokenOf } from "../../../lib/features/analytics/wiring.ts";

Deno.test("loadConfig() gives analytics defaults by mode", async (t) => {
  await t.step("development: role both, 10 s intervals, timer", () => {
    const c = loadConfig({ env: { OUTPOST_MODE: "development" } });
    assert.equal(c.role, "both");
    assert.equal(c.analytics.flushSeconds, 10);
    assert.equal(c.analytics.scheduler, "timer");
    assert.equal(c.analytics.centralUrl, undefined);
    assert.equal(c.analytics.maxBatchEvents, 100);
  });
  await t.step("Deno Deploy: 60 s intervals, Deno.cron", () => {
    const c = loadConfig({ env: { DENO_DEPLOYMENT_ID: "x" } });
    assert.equal(c.analytics.flushSeconds, 60);
    assert.equal(c.analytics.scheduler, "cron");
  });
  await t.step("a config module's flushSeconds wins over the mode default", () => {
    const c = loadConfig({ env: {}, module: { analytics: { flushSeconds: 30 } } });
    assert.equal(c.analytics.flushSeconds, 30);
  });
});

Deno.test("loadConfig() reads the analytics environment variables", () => {
  const c = loadConfig({
    env: {
      OUTPOST_ROLE: "edge",
      EDGE_NODE_ID: "pod-7",
      ANALYTICS_FLUSH_SECONDS: "15",
      ANALYTICS_SCHEDULER: "cron",
      ANALYTICS_CENTRAL_URL: "https://central.example.com/",
      CENTRAL_TOKEN: "0123456789abcdef0123",
      ANALYTICS_TRACK_PATHS: "/api/*, /shop",
    },
  });
  assert.equal(c.role, "edge");
  assert.equal(c.analytics.nodeId, "pod-7");
  assert.equal(c.analytics.flushSeconds, 15);
  assert.equal(c.analytics.scheduler, "cron");
  assert.equal(c.analytics.centralUrl, "https://central.example.com");
  assert.equal(c.analytics.centralToken, "0123456789abcdef0123");
  assert.deepEqual(c.analytics.track.paths, ["/api/*", "/shop"]);
});

Deno.test("loadConfig() refuses analytics settings that cannot work, naming the field", async (t) => {
  const fails = (env: Record<string, string>, message: RegExp, module?: unknown) =>
    assert.throws(
      () => loadConfig({ env, module }),
      (e) => e instanceof ConfigError && message.test(e.message),
    );
  await t.step(
    "an edge needs a collector URL; the development token is refused in production",
    () => {
      fails(
        { OUTPOST_ROLE: "edge", CENTRAL_TOKEN: "0123456789abcdef" },
        /analytics\.centralUrl: Required/,
      );
      fails(
        { OUTPOST_MODE: "production", CENTRAL_TOKEN: DEV_CENTRAL_TOKEN },
        /analytics\.centralToken.*development token cannot be used in production/,
      );
    },
  );
  await t.step("a missing CENTRAL_TOKEN closes what needs it instead of stopping start-up", () => {
    const central = loadConfig({ env: { OUTPOST_ROLE: "central" } });
    assert.equal(centralTokenOf(central), null);
    const edge = loadConfig({
      env: { OUTPOST_ROLE: "edge", ANALYTICS_CENTRAL_URL: "http://other:8000" },
    });
    assert.equal(centralTokenOf(edge), null);
    const remote = loadConfig({ env: { ANALYTICS_CENTRAL_URL: "http://other:8000" } });
    assert.equal(centralTokenOf(remote), null);
    const self = loadConfig({ env: { OUTPOST_MODE: "production" } });
    assert.match(
      centralTokenOf(self)!,
      /^[0-9a-f]{64}$/,
      "a random one when it is its own collector",
    );
  });
  await t.step("bad values", () => {
    fails({ OUTPOST_ROLE: "collector" }, /role \(from OUTPOST_ROLE\)/);
    fails(
      { ANALYTICS_FLUSH_SECONDS: "soon" },
      /ANALYTICS_FLUSH_SECONDS \(analytics\.flushSeconds\): Not an integer/,
    );
    fails(
      { ANALYTICS_FLUSH_SECONDS: "0" },
      /analytics\.flushSeconds \(from ANALYTICS_FLUSH_SECONDS\)/,
    );
    fails(
      { CENTRAL_TOKEN: "short" },
      /analytics\.centralToken \(from CENTRAL_TOKEN\): Must be at least 16/,
    );
    fails({ ANALYTICS_CENTRAL_URL: "ftp://x" }, /analytics\.centralUrl/);
    fails({}, /analytics\.maxBodyBytes/, { analytics: { maxBodyBytes: 10 * 1024 * 1024 } });
  });
});

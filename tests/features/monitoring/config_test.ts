import assert from "node:assert/strict";
import { ConfigError } from "../../../lib/platform/config/errors.ts";
import { loadConfig } from "../../../lib/core/config.ts";

function load(env: Record<string, string>, module: Record<string, unknown> = {}) {
  return loadConfig({ env: { KV_PATH: ":memory:", ...env }, module });
}

Deno.test("loadConfig() reads the metrics section from module and environment", async (t) => {
  await t.step("defaults", () => {
    const m = load({}).metrics;
    assert.equal(m.enabled, true);
    assert.equal(m.windowMs, 300_000);
    assert.equal(m.slotMs, 10_000);
    assert.deepEqual(
      { ...m.health },
      {
        maxErrorRate: 0.01,
        maxP99Ms: 200,
        minRequests: 20,
        checkIntervalMs: 5000,
        latency: "total",
        countOriginErrors: false,
      },
    );
    assert.equal(m.alerts.webhookUrl, undefined);
    assert.equal(m.adminToken, undefined);
  });
  await t.step("environment variables win over the module", () => {
    const m = load({
      METRICS_ENABLED: "off",
      HEALTH_MAX_ERROR_RATE: "0.05",
      HEALTH_MAX_P99_MS: "350.5",
      HEALTH_LATENCY: "edge",
      ALERT_WEBHOOK_URL: "https://hooks.example.com/T0/B0/x",
      ADMIN_TOKEN: "0123456789abcdef",
    }, { metrics: { health: { maxErrorRate: 0.2, minRequests: 5 } } }).metrics;
    assert.equal(m.enabled, false);
    assert.equal(m.health.maxErrorRate, 0.05);
    assert.equal(m.health.maxP99Ms, 350.5);
    assert.equal(m.health.latency, "edge");
    assert.equal(m.health.minRequests, 5);
    assert.equal(m.alerts.webhookUrl, "https://hooks.example.com/T0/B0/x");
    assert.equal(m.adminToken, "0123456789abcdef");
  });
  await t.step("bad values stop start-up naming the field", () => {
    const cases: Array<[Record<string, string>, Record<string, unknown>, RegExp]> = [
      [{ METRICS_ENABLED: "maybe" }, {}, /METRICS_ENABLED \(metrics\.enabled\): Not a boolean/],
      [
        { HEALTH_MAX_ERROR_RATE: "2" },
        {},
        /metrics\.health\.maxErrorRate \(from HEALTH_MAX_ERROR_RATE\)/,
      ],
      [
        { HEALTH_MAX_P99_MS: "fast" },
        {},
        /HEALTH_MAX_P99_MS \(metrics\.health\.maxP99Ms\): Not a number/,
      ],
      [{ HEALTH_LATENCY: "fast" }, {}, /metrics\.health\.latency \(from HEALTH_LATENCY\)/],
      [
        { ALERT_WEBHOOK_URL: "ftp://x.example" },
        {},
        /metrics\.alerts\.webhookUrl \(from ALERT_WEBHOOK_URL\)/,
      ],
      [{}, { metrics: { windowMs: 25_000 } }, /metrics\.windowMs: Must be a whole number of slots/],
      [
        {},
        { metrics: { windowMs: 3_600_000, slotMs: 1000 } },
        /metrics\.slotMs: At most 360 slots/,
      ],
      [{}, { metrics: { snapshotTtlMs: 5000 } }, /metrics\.snapshotTtlMs: Must exceed/],
    ];
    for (const [env, module, message] of cases) {
      assert.throws(
        () => load(env, module),
        (e: Error) => e instanceof ConfigError && message.test(e.message),
        message.source,
      );
    }
  });
});

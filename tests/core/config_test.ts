import assert from "node:assert/strict";
import { ConfigError } from "../../lib/platform/config/errors.ts";
import { defaultRegionOf } from "../../lib/core/fields.ts";
import { loadConfig } from "../../lib/core/config.ts";

Deno.test("loadConfig() is production unless development is asked for", () => {
  const config = loadConfig({ env: {} });
  assert.equal(config.mode, "production");
  assert.deepEqual(config.trustedProxies, [], "no proxy is trusted by default in production");
  assert.equal(loadConfig({ env: { OUTPOST_MODE: "development" } }).mode, "development");
});

Deno.test("loadConfig() gives working zero-config dev defaults", () => {
  const config = loadConfig({ env: { OUTPOST_MODE: "development" } });
  assert.equal(config.mode, "development");
  assert.equal(config.port, 8000);
  assert.equal(config.region, "us-east");
  assert.equal(config.kvPath, ".data/outpost.sqlite3");
  assert.deepEqual(config.regions.map((r) => r.name), [
    "us-west",
    "us-east",
    "eu-west",
    "ap-southeast",
  ]);
  for (const r of config.regions) assert.equal(r.origin, "http://127.0.0.1:8001");
  assert.deepEqual(config.trustedProxies, ["127.0.0.0/8", "::1/128"]);
  assert.equal(config.demoOrigin.mode, "port");
  assert.equal(config.experiments.length, 1);
  assert.deepEqual(config.experiments[0].variants.map((v) => v.name), ["A", "B"]);
  assert.equal(config.experiments[0].cookie, "variant");
  assert.equal(defaultRegionOf(config), "us-east");
});

Deno.test("loadConfig() reads environment variables", async (t) => {
  await t.step("PORT moves the demo origin to PORT+1", () => {
    const config = loadConfig({ env: { PORT: "9000" } });
    assert.equal(config.port, 9000);
    assert.equal(config.regions[0].origin, "http://127.0.0.1:9001");
  });
  await t.step("ORIGIN_URL points every region at one origin and turns the demo off", () => {
    const config = loadConfig({ env: { ORIGIN_URL: "https://example.com/base/" } });
    assert.ok(config.regions.every((r) => r.origin === "https://example.com/base"));
    assert.equal(config.demoOrigin.mode, "off");
  });
  await t.step("EDGE_REGION, KV_PATH, TRUSTED_PROXIES, DEFAULT_REGION", () => {
    const config = loadConfig({
      env: {
        EDGE_REGION: "eu-west",
        KV_PATH: ":memory:",
        TRUSTED_PROXIES: "10.0.0.0/8, 2001:db8::/32",
        DEFAULT_REGION: "ap-southeast",
      },
    });
    assert.equal(config.region, "eu-west");
    assert.equal(config.kvPath, ":memory:");
    assert.deepEqual(config.trustedProxies, ["10.0.0.0/8", "2001:db8::/32"]);
    assert.equal(defaultRegionOf(config), "ap-southeast");
  });
  await t.step("on Deno Deploy: production, platform KV, in-process demo origin", () => {
    const config = loadConfig({ env: { DENO_DEPLOYMENT_ID: "abc123" } });
    assert.equal(config.mode, "production");
    assert.equal(config.kvPath, undefined);
    assert.equal(config.demoOrigin.mode, "internal");
    assert.equal(config.regions[0].origin, "internal://demo");
    assert.deepEqual(config.trustedProxies, []);
  });
});

Deno.test("loadConfig() merges a config module", () => {
  const config = loadConfig({
    env: { EDGE_REGION: "tokyo" },
    module: {
      regions: [
        { name: "tokyo", lat: 35.68, lon: 139.69, origin: "https://tokyo.example.com" },
        { name: "virginia", lat: 38.9, lon: -77.4, origin: "https://us.example.com" },
      ],
      experiments: [],
      proxy: { timeoutMs: 2500 },
    },
  });
  assert.equal(config.region, "tokyo");
  assert.equal(config.demoOrigin.mode, "off");
  assert.equal(config.proxy.timeoutMs, 2500);
  assert.equal(config.proxy.breaker.failureThreshold, 3);
  assert.deepEqual(config.experiments, []);
});

Deno.test("loadConfig() names the bad field", async (t) => {
  const cases: Array<[string, Parameters<typeof loadConfig>[0], RegExp]> = [
    [
      "unknown region",
      { env: { EDGE_REGION: "mars-1" } },
      /region \(from EDGE_REGION\): Unknown region: mars-1/,
    ],
    ["malformed region name", { env: { EDGE_REGION: "US West" } }, /region \(from EDGE_REGION\)/],
    ["non-numeric port", { env: { PORT: "http" } }, /PORT \(port\): Not an integer: http/],
    ["port out of range", { env: { PORT: "70000" } }, /port \(from PORT\)/],
    [
      "bad origin URL",
      { env: { ORIGIN_URL: "ftp://x" } },
      /regions\.0\.origin \(from ORIGIN_URL\).*http, https or internal/,
    ],
    [
      "bad CIDR",
      { env: { TRUSTED_PROXIES: "10.0.0.0/33" } },
      /trustedProxies\.0 \(from TRUSTED_PROXIES\)/,
    ],
    ["latitude out of range", {
      module: { regions: [{ name: "x", lat: 123.4, lon: 0, origin: "http://a" }], region: "x" },
    }, /regions\.0\.lat/],
    ["duplicate region", {
      module: {
        region: "x",
        regions: [
          { name: "x", lat: 1, lon: 0, origin: "http://a" },
          { name: "x", lat: 2, lon: 0, origin: "http://b" },
        ],
      },
    }, /regions\.1\.name: Duplicate region: x/],
    ["experiment with one variant", {
      module: { experiments: [{ name: "e", variants: [{ name: "A", weight: 1 }] }] },
    }, /experiments\.0\.variants/],
    ["two experiments on one cookie", {
      module: {
        experiments: [
          { name: "e1", variants: [{ name: "A", weight: 1 }, { name: "B", weight: 1 }] },
          { name: "e2", variants: [{ name: "A", weight: 1 }, { name: "B", weight: 1 }] },
        ],
      },
    }, /experiments\.1\.cookie: Cookie already used by experiment e1: variant/],
    [
      "bad log flag",
      { env: { LOG_REQUESTS: "maybe" } },
      /LOG_REQUESTS \(log\.requests\): Not a boolean/,
    ],
    ["module not an object", { module: [1, 2] }, /config module must export an object/],
  ];
  for (const [name, input, pattern] of cases) {
    await t.step(name, () => {
      assert.throws(() => loadConfig(input), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, pattern);
        return true;
      });
    });
  }
});

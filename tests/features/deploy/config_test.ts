import assert from "node:assert/strict";
import { ConfigError } from "../../../lib/platform/config/errors.ts";
import { defaultRegionOf, UNKNOWN_REGION } from "../../../lib/core/fields.ts";
import { loadConfig } from "../../../lib/core/config.ts";
import { DENO_CDN_PURGE_URL } from "../../../lib/features/deploy/config.ts";
import { onDenoDeploy } from "../../../lib/core/fields.ts";

function refused(env: Record<string, string>, module?: unknown): string {
  try {
    loadConfig({ env, module });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail("loaded");
}

Deno.test("onDenoDeploy() follows the platform's predefined variables", () => {
  assert.equal(onDenoDeploy({}), false);
  assert.equal(onDenoDeploy({ DENO_DEPLOYMENT_ID: "abc" }), true);
  assert.equal(onDenoDeploy({ DENO_DEPLOY: "true" }), true);
  assert.equal(onDenoDeploy({ DENO_DEPLOY: "1" }), true);
  assert.equal(onDenoDeploy({ DENO_DEPLOY: "false" }), false);
  assert.equal(onDenoDeploy({ DENO_DEPLOYMENT_ID: " " }), false);
});

Deno.test("loadConfig() on Deno Deploy: unknown region, CDN guard and purge, 4.5 s shutdown", () => {
  const c = loadConfig({
    env: { DENO_DEPLOYMENT_ID: "d1", DENO_TIMELINE: "production", DENO_DEPLOY_APP_SLUG: "shop" },
  });
  assert.equal(c.region, UNKNOWN_REGION);
  assert.equal(c.kvPath, undefined, "the platform's database");
  assert.deepEqual(c.platform, {
    kind: "deno-deploy",
    deploymentId: "d1",
    timeline: "production",
    app: "shop",
    regionSource: "unknown",
    cdn: { guard: true, purgeUrl: DENO_CDN_PURGE_URL, purgeTimeoutMs: 5000 },
    shutdownMs: 4500,
  });
  // Unknown locations go to the first region unless DEFAULT_REGION says otherwise.
  assert.equal(defaultRegionOf(c), "us-west");
  const named = loadConfig({
    env: { DENO_DEPLOYMENT_ID: "d1", EDGE_REGION: "eu-west", DEFAULT_REGION: "us-east" },
  });
  assert.equal(named.region, "eu-west");
  assert.equal(named.platform.regionSource, "EDGE_REGION");
  assert.equal(defaultRegionOf(named), "us-east");
});

Deno.test("loadConfig() names a region only when told (development runs the demo's us-east)", () => {
  const prod = loadConfig({ env: { KV_PATH: ":memory:" } });
  assert.equal(prod.region, UNKNOWN_REGION);
  assert.equal(prod.platform.kind, "self-hosted");
  assert.equal(prod.platform.cdn.guard, false);
  assert.equal(prod.platform.cdn.purgeUrl, undefined);
  const dev = loadConfig({ env: { OUTPOST_MODE: "development", KV_PATH: ":memory:" } });
  assert.equal(dev.region, "us-east");
  assert.equal(dev.platform.regionSource, "development");
  const fromModule = loadConfig({ env: { KV_PATH: ":memory:" }, module: { region: "eu-west" } });
  assert.equal(fromModule.platform.regionSource, "config");
  assert.match(
    refused({}, { regions: [{ name: "unknown", lat: 0, lon: 0, origin: "http://o.test" }] }),
    /regions: Reserved for a node whose region nobody named: unknown/,
  );
});

Deno.test("loadConfig() reads KV_URL and refuses what cannot work, naming the field", () => {
  const c = loadConfig({ env: { KV_URL: "https://kv.example.com/db" } });
  assert.equal(c.kvUrl, "https://kv.example.com/db");
  assert.equal(c.kvPath, undefined, "no local file besides the remote KV");
  assert.match(refused({ KV_URL: "not a url" }), /kvUrl \(from KV_URL\)/);
  assert.match(refused({ KV_URL: "ftp://kv.example.com" }), /kvUrl \(from KV_URL\)/);
  assert.match(
    refused({ KV_URL: "https://kv.example.com", KV_PATH: "/tmp/x.sqlite3" }),
    /kvUrl \(from KV_URL\): Give either a KV path or a KV URL, not both/,
  );
});

Deno.test("loadConfig() reads the platform variables and refuses bad ones by name", () => {
  const off = loadConfig({
    env: { DENO_DEPLOYMENT_ID: "d", CDN_GUARD: "off", CDN_PURGE_URL: "off" },
  });
  assert.equal(off.platform.cdn.guard, false);
  assert.equal(off.platform.cdn.purgeUrl, undefined);
  const local = loadConfig({
    env: { KV_PATH: ":memory:", CDN_PURGE_URL: "http://127.0.0.1:9/invalidate" },
  });
  assert.equal(local.platform.cdn.purgeUrl, "http://127.0.0.1:9/invalidate");
  assert.match(refused({ CDN_GUARD: "maybe" }), /CDN_GUARD \(platform\.cdn\.guard\)/);
  assert.match(refused({ CDN_PURGE_URL: "mailto:x@y" }), /platform\.cdn\.purgeUrl/);
  assert.match(
    refused({ DENO_DEPLOYMENT_ID: "d", SHUTDOWN_TIMEOUT_MS: "8000" }),
    /platform\.shutdownMs \(from SHUTDOWN_TIMEOUT_MS\): Deno Deploy kills the process 5000 ms/,
  );
  assert.match(
    refused({}, { platform: { kind: "deno-deploy" } }),
    /platform\.kind: Detected from the environment/,
  );
});

import assert from "node:assert/strict";
import { parseByteSize } from "../../../lib/platform/config/env.ts";
import { ConfigError } from "../../../lib/platform/config/errors.ts";
import { loadConfig } from "../../../lib/core/config.ts";

Deno.test("loadConfig() gives the cache section defaults and reads its env vars", async (t) => {
  await t.step("defaults", () => {
    const { cache } = loadConfig({ env: {} });
    assert.equal(cache.enabled, true);
    assert.equal(cache.memoryBytes, 64 * 1024 * 1024);
    assert.equal(cache.maxBodyBytes, 10 * 1024 * 1024);
    assert.equal(cache.leaseMs, 5000);
    assert.equal(cache.purgePollMs, 5000);
    assert.equal(cache.denoCdnCacheControl, "off");
    assert.deepEqual(cache.routes, []);
    assert.deepEqual(cache.kv, {
      maxBytes: 256 * 1024 * 1024,
      keepStaleSeconds: 300,
      sweepSeconds: 60,
    });
    assert.deepEqual(cache.compression, { enabled: true, minBytes: 256 });
    assert.equal(cache.hitForPassSeconds, 120);
  });
  await t.step("CACHE_KV_MAX_BYTES sets the KV budget, over the module's", () => {
    const { cache } = loadConfig({
      env: { CACHE_KV_MAX_BYTES: "8MiB" },
      module: { cache: { kv: { maxBytes: 1024 ** 3, keepStaleSeconds: 60 } } },
    });
    assert.equal(cache.kv.maxBytes, 8 * 1024 * 1024);
    assert.equal(cache.kv.keepStaleSeconds, 60);
    assert.throws(
      () => loadConfig({ env: { CACHE_KV_MAX_BYTES: "1k" } }),
      (e: Error) => /cache\.kv\.maxBytes \(from CACHE_KV_MAX_BYTES\)/.test(e.message),
    );
  });
  await t.step("CACHE_MEMORY_BYTES and CACHE_MAX_BODY_BYTES with units", () => {
    const { cache } = loadConfig({
      env: { CACHE_MEMORY_BYTES: "2GiB", CACHE_MAX_BODY_BYTES: "512k" },
    });
    assert.equal(cache.memoryBytes, 2 * 1024 ** 3);
    assert.equal(cache.maxBodyBytes, 512 * 1024);
  });
  await t.step("bad values stop start-up naming the field", () => {
    assert.throws(
      () => loadConfig({ env: { CACHE_MEMORY_BYTES: "lots" } }),
      (e: Error) =>
        e instanceof ConfigError && /CACHE_MEMORY_BYTES \(cache.memoryBytes\)/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ env: { CACHE_MAX_BODY_BYTES: "1GiB" } }),
      (e: Error) => /cache\.maxBodyBytes \(from CACHE_MAX_BODY_BYTES\)/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ module: { cache: { routes: [{ paths: ["/x"], key: "nope" }] } } }),
      (e: Error) => /cache\.routes\.0\.key: Must be a function/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ module: { cache: { denoCdnCacheControl: ",,," } } }),
      (e: Error) => /cache\.denoCdnCacheControl/.test(e.message),
    );
  });
  await t.step("a config module may give routes with key functions", () => {
    const key = (_req: Request, url: URL) => url.pathname;
    const { cache } = loadConfig({
      module: { cache: { routes: [{ paths: ["/a/*"], key, ttlSeconds: 5 }] } },
    });
    assert.equal(cache.routes[0].key, key);
    assert.equal(cache.routes[0].ttlSeconds, 5);
  });
});

Deno.test("parseByteSize() reads integers with optional units", () => {
  assert.equal(parseByteSize("1024"), 1024);
  assert.equal(parseByteSize(" 3 MiB "), 3 * 1024 * 1024);
  assert.equal(parseByteSize("1g"), 1024 ** 3);
  assert.equal(parseByteSize("1.5M"), null);
  assert.equal(parseByteSize("-1"), null);
});

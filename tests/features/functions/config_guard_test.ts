/** The `functions` config section and its environment variables; the process crash guard. */

import assert from "node:assert/strict";
import { ConfigError } from "../../../lib/platform/config/errors.ts";
import { loadConfig } from "../../../lib/core/config.ts";
import { installCrashGuard } from "../../../lib/features/functions/guard.ts";
import { memoryLogger } from "../../../lib/core/log.ts";
import { MetricsRegistry } from "../../../lib/core/metrics.ts";

function load(env: Record<string, string>, functions?: unknown) {
  return loadConfig({
    env: { KV_PATH: ":memory:", ORIGIN_URL: "http://127.0.0.1:1", ...env },
    module: { demoOrigin: { mode: "off" }, ...(functions ? { functions } : {}) },
  });
}

Deno.test("functions config: defaults, the config module, then the environment", () => {
  const defaults = load({}).functions;
  assert.deepEqual(defaults, {
    enabled: true,
    dir: "functions",
    timeoutMs: 10_000,
    maxBodyBytes: 1024 * 1024,
    kv: { maxValueBytes: 65_472, maxKeyBytes: 512 },
  });
  const fromModule = load({}, { dir: "edge/fns", timeoutMs: 500 }).functions;
  assert.equal(fromModule.dir, "edge/fns");
  assert.equal(fromModule.timeoutMs, 500);
  const fromEnv = load(
    { FUNCTIONS_ENABLED: "off", FUNCTIONS_DIR: "./fns/", FUNCTIONS_TIMEOUT_MS: "2500" },
    { timeoutMs: 500 },
  ).functions;
  assert.deepEqual([fromEnv.enabled, fromEnv.dir, fromEnv.timeoutMs], [false, "fns", 2500]);
});

Deno.test("functions config: bad values stop start-up naming the field", () => {
  const refused = (env: Record<string, string>, functions: unknown, message: RegExp) =>
    assert.throws(() => load(env, functions), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, message);
      return true;
    });
  refused(
    { FUNCTIONS_TIMEOUT_MS: "soon" },
    undefined,
    /FUNCTIONS_TIMEOUT_MS \(functions\.timeoutMs\): Not an integer: soon/,
  );
  refused(
    { FUNCTIONS_TIMEOUT_MS: "0" },
    undefined,
    /functions\.timeoutMs \(from FUNCTIONS_TIMEOUT_MS\)/,
  );
  refused(
    { FUNCTIONS_ENABLED: "maybe" },
    undefined,
    /FUNCTIONS_ENABLED \(functions\.enabled\): Not a boolean/,
  );
  refused(
    { FUNCTIONS_DIR: "../elsewhere" },
    undefined,
    /functions\.dir \(from FUNCTIONS_DIR\): Must be a folder inside the project/,
  );
  refused({}, { dir: "/abs" }, /functions\.dir: Must be a folder inside the project/);
  refused({}, { kv: { maxValueBytes: 70_000 } }, /functions\.kv\.maxValueBytes/);
});

Deno.test("installCrashGuard() logs and counts what no one handled, instead of exiting", () => {
  const log = memoryLogger();
  const metrics = new MetricsRegistry();
  const uninstall = installCrashGuard(log, metrics);
  try {
    const error = new ErrorEvent("error", {
      error: new Error("thrown in a timer"),
      cancelable: true,
    });
    globalThis.dispatchEvent(error);
    assert.equal(error.defaultPrevented, true);
    const rejection = new PromiseRejectionEvent("unhandledrejection", {
      promise: Promise.resolve(),
      reason: new Error("never awaited"),
      cancelable: true,
    });
    globalThis.dispatchEvent(rejection);
    assert.equal(rejection.defaultPrevented, true);
    const counter = metrics.counter("outpost_uncaught_errors_total", "");
    assert.equal(counter.get({ kind: "exception" }), 1);
    assert.equal(counter.get({ kind: "rejection" }), 1);
    assert.deepEqual(log.lines.map((l) => (l.error as { message: string }).message), [
      "thrown in a timer",
      "never awaited",
    ]);
  } finally {
    uninstall();
  }
  const after = new ErrorEvent("error", { error: new Error("x"), cancelable: true });
  globalThis.dispatchEvent(after);
  assert.equal(after.defaultPrevented, false);
});

import assert from "node:assert/strict";
import { createApp, type Edge } from "../../lib/core/app.ts";
import { ManualClock } from "../../lib/core/clock.ts";
import { HealthConditions } from "../../lib/core/conditions.ts";
import { mergeSnapshots } from "../../lib/features/monitoring/stats.ts";
import { deadOrigin, makeConfig } from "../helpers.ts";

Deno.test("HealthConditions raises, clears and runs checks", async (t) => {
  const errors: string[] = [];
  const c = new HealthConditions({ onCheckError: (name) => errors.push(name) });
  await t.step("raised conditions stay until cleared; a raise replaces", () => {
    c.raise("secret.JWT_SECRET", "degraded", "JWT_SECRET is not set");
    c.raise("secret.JWT_SECRET", "degraded", "JWT_SECRET is not set: /api/* answers 503");
    assert.deepEqual(c.list(), [{
      name: "secret.JWT_SECRET",
      level: "degraded",
      reason: "JWT_SECRET is not set: /api/* answers 503",
    }]);
    c.clear("secret.JWT_SECRET");
    c.clear("never.raised");
    assert.deepEqual(c.list(), []);
  });
  await t.step("checks run on every read; unhealthy ones come first", () => {
    let broken = false;
    c.check("b.check", () => (broken ? { level: "degraded", reason: "b is off" } : null));
    c.raise("z.raised", "degraded", "z");
    c.raise("a.raised", "unhealthy", "a");
    assert.deepEqual(c.list().map((x) => x.name), ["a.raised", "z.raised"]);
    broken = true;
    assert.deepEqual(c.list().map((x) => `${x.level} ${x.name}`), [
      "unhealthy a.raised",
      "degraded b.check",
      "degraded z.raised",
    ]);
    c.clear("a.raised");
    c.clear("z.raised");
  });
  await t.step("a check that throws is reported as degraded and logged", () => {
    c.check("throws", () => {
      throw new Error("boom");
    });
    const thrown = c.list().find((x) => x.name === "throws");
    assert.deepEqual(thrown, {
      name: "throws",
      level: "degraded",
      reason: "health check throws failed",
    });
    assert.deepEqual(errors, ["throws"]);
  });
  await t.step("names are validated and a check is registered once", () => {
    assert.throws(() => c.raise("has space", "degraded", "x"), /Invalid health condition name/);
    assert.throws(() => c.check("", () => null), /Invalid health condition name/);
    assert.throws(() => c.check("b.check", () => null), /already registered/);
    assert.throws(() => c.raise("b.check", "degraded", "x"), /is a registered check/);
  });
  await t.step("reasons are cut at 300 characters", () => {
    c.raise("long", "degraded", "x".repeat(1000));
    assert.equal(c.list().find((x) => x.name === "long")?.reason.length, 300);
  });
});

async function health(edge: Edge) {
  const res = await edge.fetch(new Request("http://edge.test/_edge/health"));
  return { http: res.status, text: "", ...(await res.json()) };
}

Deno.test("conditions make the node degraded or unhealthy with no traffic at all", async () => {
  await using kv = await Deno.openKv(":memory:");
  const edge = createApp({ config: makeConfig(deadOrigin()), kv, clock: new ManualClock() });
  try {
    assert.equal((await health(edge)).status, "ok");
    edge.conditions.raise(
      "secret.ADMIN_TOKEN",
      "degraded",
      "ADMIN_TOKEN is not set: /_edge/purge answers 503",
    );
    const degraded = await health(edge);
    assert.equal(degraded.http, 200, "degraded still serves");
    assert.equal(degraded.status, "degraded");
    assert.deepEqual(degraded.conditions, { "secret.ADMIN_TOKEN": "degraded" });
    assert.deepEqual(degraded.reasons, ["ADMIN_TOKEN is not set: /_edge/purge answers 503"]);
    assert.equal(degraded.requests, 0);
    edge.conditions.raise("secret.CENTRAL_TOKEN", "unhealthy", "CENTRAL_TOKEN is not set");
    assert.equal((await health(edge)).http, 503);
    edge.conditions.clear("secret.CENTRAL_TOKEN");
    edge.conditions.clear("secret.ADMIN_TOKEN");
    const ok = await health(edge);
    assert.equal(ok.http, 200);
    assert.equal(ok.status, "ok");
    assert.equal(
      ok.conditions,
      undefined,
      "the compact answer names conditions only when some are",
    );
  } finally {
    await edge.close();
  }
});

Deno.test("conditions given to createApp are health's (raised before the app exists)", async () => {
  await using kv = await Deno.openKv(":memory:");
  const conditions = new HealthConditions();
  conditions.raise("secret.JWT_SECRET", "degraded", "JWT_SECRET is not set");
  const edge = createApp({ config: makeConfig(deadOrigin()), kv, conditions });
  try {
    assert.equal(edge.conditions, conditions);
    assert.equal((await health(edge)).status, "degraded");
  } finally {
    await edge.close();
  }
});

/** A KV handle whose writes fail while `broken.on` is true. */
function breakableKv(real: Deno.Kv, broken: { on: boolean }): Deno.Kv {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === "set" && broken.on) {
        return () => Promise.reject(new TypeError("Write failed: database is read-only"));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("a KV store that cannot be written makes the node unhealthy until a write succeeds", async () => {
  await using real = await Deno.openKv(":memory:");
  const broken = { on: false };
  const edge = createApp({
    config: makeConfig(deadOrigin()),
    kv: breakableKv(real, broken),
    clock: new ManualClock(),
  });
  try {
    await edge.jobs.runNow("health.kv-write");
    assert.equal((await health(edge)).status, "ok");
    broken.on = true;
    await edge.jobs.runNow("health.kv-write");
    const h = await health(edge);
    assert.equal(h.http, 503);
    assert.deepEqual(h.conditions, { "kv.write": "unhealthy" });
    assert.match(
      h.reasons[0],
      /^the KV store cannot be written \(Write failed: database is read-only\)/,
    );
    assert.equal(
      h.jobs.failing["health.kv-write"],
      1,
      "counted as a job failure",
    );
    broken.on = false;
    await edge.jobs.runNow("health.kv-write");
    assert.equal((await health(edge)).status, "ok");
  } finally {
    await edge.close();
  }
});

Deno.test("a degraded node counts as live, not unhealthy, in global stats", async () => {
  await using kv = await Deno.openKv(":memory:");
  const edge = createApp({ config: makeConfig(deadOrigin()), kv, clock: new ManualClock() });
  try {
    edge.conditions.raise("x", "degraded", "something is off");
    const snap = edge.monitor.snapshot();
    assert.equal(snap.health.status, "degraded");
    const stats = mergeSnapshots({
      snapshots: [snap],
      skipped: { corrupt: 0, old_format: 0, expired: 0 },
    }, snap.at);
    assert.equal(stats.unhealthy_edges, 0);
    assert.equal(stats.per_edge[0].status, "degraded");
  } finally {
    await edge.close();
  }
});

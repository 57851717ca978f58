import assert from "node:assert/strict";
import { memoryLogger } from "../../../lib/core/log.ts";
import type { HealthAlert } from "../../../lib/features/monitoring/alerts.ts";
import { deadOrigin, get, makeConfig, startEdge, startOrigin } from "../../helpers.ts";

/** A webhook receiver on port 0 that answers with the statuses it is given, then 200. */
function startWebhook(statuses: number[] = []) {
  const received: Array<{ alert: HealthAlert; key: string | null }> = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const alert = await req.json() as HealthAlert;
    received.push({ alert, key: req.headers.get("idempotency-key") });
    return new Response(null, { status: statuses.shift() ?? 200 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks/secret-path`,
    received,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** These tests break health with the origin's own 500s, so they count them. */
const JUDGE_ALL = { metrics: { health: { countOriginErrors: true } } };

async function breakAndHeal(e: { url: string; clock: { advance(ms: number): void } }) {
  for (let i = 0; i < 25; i++) await get(`${e.url}/status/500`);
  await get(`${e.url}/_edge/health`);
  await get(`${e.url}/_edge/health`); // still unhealthy: no second alert
  e.clock.advance(300_000);
  await get(`${e.url}/_edge/health`);
}

Deno.test("health transitions are logged and POSTed once each to the webhook", async () => {
  await using origin = startOrigin();
  await using hook = startWebhook();
  const log = memoryLogger("info");
  await using e = await startEdge(
    makeConfig(origin.url, JUDGE_ALL, { ALERT_WEBHOOK_URL: hook.url }),
    { log },
  );
  await breakAndHeal(e);
  await e.edge.jobs.runNow("metrics.alerts");
  await e.edge.jobs.runNow("metrics.alerts");
  assert.deepEqual(hook.received.map((r) => [r.alert.from, r.alert.to]), [
    ["ok", "unhealthy"],
    ["unhealthy", "ok"],
  ]);
  const down = hook.received[0].alert;
  assert.equal(down.region, "us-east");
  assert.equal(down.node_id, e.edge.monitor.nodeId);
  assert.equal(hook.received[0].key, down.id);
  assert.notEqual(hook.received[1].key, down.id);
  assert.match(down.reasons[0], /^error rate 100\.0%/);
  assert.match(down.text, /^Outpost us-east \(\w+\) is unhealthy: error rate/);
  assert.deepEqual(down.thresholds, { error_rate: 0.01, p99_ms: 200, min_requests: 20 });
  const changes = log.lines.filter((l) => l.msg === "health changed");
  assert.deepEqual(changes.map((l) => [l.level, l.to]), [["warn", "unhealthy"], ["info", "ok"]]);
  assert.ok(!JSON.stringify(log.lines).includes("secret-path"), "the webhook path is never logged");
});

Deno.test("a failing webhook is retried without duplicates; a 4xx drops the alert", async (t) => {
  await using origin = startOrigin();
  await t.step("503 then 200: delivered once, in order", async () => {
    await using hook = startWebhook([503]);
    await using e = await startEdge(
      makeConfig(origin.url, JUDGE_ALL, { ALERT_WEBHOOK_URL: hook.url }),
    );
    await breakAndHeal(e);
    await e.edge.jobs.runNow("metrics.alerts");
    assert.equal(e.edge.jobs.stats()["metrics.alerts"].consecutiveFailures, 1);
    assert.equal(e.edge.monitor.alerts.pending().length, 2);
    await e.edge.jobs.runNow("metrics.alerts");
    const ids = hook.received.map((r) => r.alert.id);
    assert.equal(ids.length, 3, "the first alert was tried twice");
    assert.equal(ids[0], ids[1], "a retry carries the same id (Idempotency-Key)");
    assert.deepEqual(hook.received.slice(1).map((r) => r.alert.to), ["unhealthy", "ok"]);
    assert.equal(e.edge.monitor.alerts.pending().length, 0);
    const m = e.edge.metrics.counter("outpost_alerts_total", "");
    assert.equal(m.get({ outcome: "sent" }), 2);
    assert.equal(m.get({ outcome: "failed" }), 1);
  });
  await t.step("400: dropped with an error log, not retried forever", async () => {
    await using hook = startWebhook([400]);
    await using e = await startEdge(
      makeConfig(origin.url, JUDGE_ALL, { ALERT_WEBHOOK_URL: hook.url }),
    );
    await breakAndHeal(e);
    await e.edge.jobs.runNow("metrics.alerts");
    assert.equal(hook.received.length, 2);
    assert.equal(e.edge.monitor.alerts.pending().length, 0);
    assert.equal(
      e.edge.metrics.counter("outpost_alerts_total", "").get({ outcome: "rejected" }),
      1,
    );
  });
});

Deno.test("a dead webhook neither slows requests nor loses the alert", async () => {
  await using origin = startOrigin();
  const dead = `${deadOrigin()}/hook`;
  await using e = await startEdge(makeConfig(origin.url, JUDGE_ALL, { ALERT_WEBHOOK_URL: dead }));
  for (let i = 0; i < 25; i++) await get(`${e.url}/status/500`);
  const started = performance.now();
  const { res } = await get(`${e.url}/_edge/health`);
  const elapsed = performance.now() - started;
  assert.equal(res.status, 503);
  // The health answer never waits for the webhook (delivery is a background job).
  assert.ok(elapsed < 1000, `${elapsed} ms`);
  await e.edge.jobs.runNow("metrics.alerts");
  const stats = e.edge.jobs.stats()["metrics.alerts"];
  assert.equal(stats.failures, 1);
  assert.match(stats.lastError ?? "", /unreachable/);
  assert.ok(!(stats.lastError ?? "").includes("/hook"), "only the webhook's origin is reported");
  assert.equal(e.edge.monitor.alerts.pending().length, 1);
});

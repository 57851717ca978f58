import assert from "node:assert/strict";
import { CentralCollector } from "../../../lib/features/analytics/central/collector.ts";
import { gzipJson, type Summary } from "../../../lib/features/analytics/summary.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import { get, makeConfig, startEdge } from "../../helpers.ts";
import { T0 } from "./_helpers.ts";

const TOKEN = "central-token-for-tests-0123456789";

function makeSummary(edge: string, start: number, users: number, types = ["a", "b"]): Summary {
  const byUser: Record<string, Record<string, number>> = {};
  const byType: Record<string, number> = {};
  let total = 0;
  for (let u = 0; u < users; u++) {
    byUser[`user-${u}`] = {};
    for (const t of types) {
      byUser[`user-${u}`][t] = u + 1;
      byType[t] = (byType[t] ?? 0) + u + 1;
      total += u + 1;
    }
  }
  return {
    v: 1,
    edge_id: edge,
    interval: { start, end: start + 60_000 },
    total_events: total,
    counts: { by_event_type: byType, by_user: byUser },
  };
}

Deno.test("CentralCollector.apply() counts each idempotency key once", async (t) => {
  await using kv = await Deno.openKv(":memory:");
  const collector = new CentralCollector({ kv, clock: new ManualClock(T0), idempotencyDays: 30 });
  const small = makeSummary("us-east/main", T0, 3);
  await t.step("first delivery applies, the second is a duplicate", async () => {
    assert.deepEqual(await collector.apply(small, "k1"), { status: "applied", total_events: 12 });
    assert.deepEqual(await collector.apply(small, "k1"), { status: "duplicate", total_events: 0 });
    const stats = await collector.stats();
    assert.equal(stats.total_events, 12);
    assert.equal(stats.summaries, 1);
    assert.deepEqual(stats.by_event_type, { a: 6, b: 6 });
    assert.deepEqual(stats.by_edge, { "us-east/main": 12 });
    assert.equal(stats.intervals[0].start_ms, T0);
    assert.deepEqual(stats.intervals[0].by_edge, { "us-east/main": 12 });
  });
  await t.step(
    "a large summary goes in parts; concurrent duplicates still count once",
    async () => {
      const large = makeSummary("eu-west/main", T0 + 60_000, 700, ["a", "b", "c"]);
      const results = await Promise.all([
        collector.apply(large, "k2"),
        collector.apply(large, "k2"),
        collector.apply(large, "k2"),
      ]);
      assert.equal(results.filter((r) => r.status === "applied").length, 1);
      const stats = await collector.stats();
      assert.equal(stats.total_events, 12 + large.total_events);
      assert.equal(stats.by_edge["eu-west/main"], large.total_events);
      assert.deepEqual(await collector.userStats("user-699"), { a: 700, b: 700, c: 700 });
      assert.deepEqual(await collector.userStats("user-0"), { a: 2, b: 2, c: 1 });
      assert.deepEqual(stats.intervals.map((i) => i.start_ms), [T0 + 60_000, T0]);
    },
  );
});

Deno.test("POST /_central/summary validates, authenticates and applies once", async (t) => {
  const config = makeConfig("http://127.0.0.1:1", {
    role: "central",
    analytics: { centralToken: TOKEN },
  });
  await using central = await startEdge(config);
  const url = `${central.url}/_central/summary`;
  const summary = makeSummary("us-west/n1", T0, 2);
  const post = async (body: BodyInit, headers: Record<string, string> = {}) =>
    await get(url, {
      method: "POST",
      body,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
        "content-encoding": "gzip",
        "idempotency-key": "us-west/n1/1/abc",
        ...headers,
      },
    });

  await t.step("no or wrong token: 401, nothing applied", async () => {
    const gz = await gzipJson(summary);
    for (const auth of ["", "Bearer wrong-token-wrong-token-wrong"]) {
      const r = await post(gz, { authorization: auth });
      assert.equal(r.res.status, 401);
      assert.equal(r.res.headers.get("content-type"), "application/problem+json");
    }
    const stats = await get(`${central.url}/_central/stats`);
    assert.equal(stats.res.status, 401);
  });
  await t.step("bad bodies: 400 with reasons", async () => {
    const noKey = await post(await gzipJson(summary), { "idempotency-key": "" });
    assert.equal(noKey.res.status, 400);
    assert.equal((noKey.body as { code: string }).code, "idempotency_key_required");
    const notGzip = await post("{not gzip", {});
    assert.equal(notGzip.res.status, 400);
    assert.equal((notGzip.body as { code: string }).code, "invalid_gzip");
    const wrongSum = await post(await gzipJson({ ...summary, total_events: 999 }));
    assert.equal(wrongSum.res.status, 400);
    assert.match((wrongSum.body as { detail: string }).detail, /do not add up/);
    const bomb = await post(await gzipJson({ pad: "x".repeat(40 * 1024 * 1024) }));
    assert.equal(bomb.res.status, 413);
  });
  await t.step("the same summary twice is counted once; plain JSON works too", async () => {
    const first = await post(await gzipJson(summary));
    assert.equal(first.res.status, 200);
    assert.equal((first.body as { status: string }).status, "applied");
    const again = await post(JSON.stringify(summary), { "content-encoding": "identity" });
    assert.equal((again.body as { status: string }).status, "duplicate");
    const stats = await get(`${central.url}/_central/stats`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = stats.body as { total_events: number; by_edge: Record<string, number> };
    assert.equal(body.total_events, summary.total_events);
    assert.deepEqual(body.by_edge, { "us-west/n1": summary.total_events });
    const user = await get(`${central.url}/_central/users/user-1`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.deepEqual(user.body, {
      user_id: "user-1",
      total_events: 4,
      by_event_type: { a: 2, b: 2 },
    });
  });
  await t.step("a central node does not ingest events", async () => {
    const r = await get(`${central.url}/events`, { method: "POST", body: "{}" });
    assert.equal(r.res.status, 404);
    assert.equal((r.body as { code: string }).code, "analytics_disabled");
  });
});

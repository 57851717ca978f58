import assert from "node:assert/strict";
import { anonymousId } from "../../../lib/features/analytics/tracker.ts";
import { DEV_CENTRAL_TOKEN } from "../../../lib/features/analytics/wiring.ts";
import type { EdgeConfigInput } from "../../../lib/core/config.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import { get, makeConfig, startEdge, startOrigin, type TestEdge } from "../../helpers.ts";
import { startCentral, TOKEN } from "./_central.ts";

const TYPES = ["page_view", "click", "signup"];

function edgeConfig(centralUrl: string, analytics: EdgeConfigInput["analytics"] = {}) {
  return makeConfig("http://127.0.0.1:1", {
    role: "edge",
    analytics: {
      centralUrl,
      centralToken: TOKEN,
      flushSeconds: 60,
      send: { timeoutMs: 2000, baseBackoffMs: 1000, maxBackoffMs: 8000 },
      ...analytics,
    },
  });
}

async function postEvents(url: string, body: unknown, query = "") {
  return await get(`${url}/events${query}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Posts `n` events from a few users and returns how many were accepted. */
async function ingest(edge: TestEdge, n: number, seed: number): Promise<number> {
  const events = Array.from({ length: n }, (_, i) => ({
    user_id: `user-${(seed * 7 + i) % 5}`,
    event_type: TYPES[(seed + i) % TYPES.length],
    properties: { i },
  }));
  const r = await postEvents(edge.url, { events });
  assert.equal(r.res.status, 202, r.text);
  return (r.body as { accepted: number }).accepted;
}

/** Runs the flush, advancing the clock past each back-off, until the outbox is empty. */
async function drain(edge: TestEdge): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await edge.edge.jobs.runNow("analytics-flush");
    const a = edge.edge.analytics.edge!;
    if ((await a.outbox.size()) === 0 && (await a.outbox.openIntervals()).length === 0) return;
    edge.clock.advance(5000);
  }
  throw new Error("outbox did not drain");
}

Deno.test("analytics: the collector fails the first posts, then totals are exact", async () => {
  await using central = await startCentral([
    "fail",
    "fail",
    "fail",
    "fail",
    "fail",
    "apply_then_fail",
  ]);
  await using edge = await startEdge(
    edgeConfig(central.url, { outbox: { maxRecords: 2 } }),
  );
  let accepted = 0;
  for (let interval = 0; interval < 5; interval++) {
    accepted += await ingest(edge, 20 + interval, interval);
    accepted += await ingest(edge, 3, interval + 100);
    edge.clock.advance(60_000);
    await edge.edge.jobs.runNow("analytics-flush");
  }
  const a = edge.edge.analytics.edge!;
  assert.equal(await a.outbox.size(), 2, "the outbox stops at its bound while central fails");
  assert.ok((await a.outbox.openIntervals()).length >= 2, "later intervals stay open, not lost");
  assert.ok(edge.edge.metrics.counter("outpost_analytics_close_deferred_total", "").get() > 0);
  assert.equal(edge.edge.metrics.gauge("outpost_analytics_outbox_full", "").get(), 1);
  assert.equal((await central.stats()).total_events, 0, "nothing applied while failing");

  await drain(edge);
  const stats = await central.stats();
  assert.equal(stats.total_events, accepted);
  assert.deepEqual(stats.by_edge, { "us-east/main": accepted });
  const byType = await get(`${edge.url}/events/counts?minutes=60`);
  assert.deepEqual(stats.by_event_type, (byType.body as { by_event_type: unknown }).by_event_type);
  assert.ok(central.posts > stats.summaries, "some summaries were posted more than once");
  assert.equal(edge.edge.metrics.gauge("outpost_analytics_outbox_records", "").get(), 0);
  assert.equal(edge.edge.metrics.gauge("outpost_analytics_outbox_full", "").get(), 0);
  const bw = (await get(`${edge.url}/events/bandwidth`)).body as Record<string, number>;
  assert.equal(bw.events_received, accepted);
  assert.ok(bw.sent_bytes > 0 && bw.received_bytes > 0);
});

Deno.test("analytics: a summary delivered twice is counted once", async () => {
  await using central = await startCentral(["apply_then_fail", "apply_then_fail"]);
  await using edge = await startEdge(edgeConfig(central.url));
  const accepted = await ingest(edge, 10, 1);
  edge.clock.advance(61_000);
  await drain(edge);
  assert.equal(central.posts, 3);
  const stats = await central.stats();
  assert.equal(stats.total_events, accepted);
  assert.equal(stats.summaries, 1);
});

Deno.test("analytics: a restart between the outbox move and the POST sends once", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "outpost-analytics-" });
  const path = `${dir}/edge.sqlite3`;
  await using central = await startCentral();
  const clock = new ManualClock();
  let accepted = 0;

  await t.step(
    "first life: events accepted, interval moved to the outbox, then stopped",
    async () => {
      const kv = await Deno.openKv(path);
      const edge = await startEdge(edgeConfig(central.url), { kv, clock });
      accepted += await ingest(edge, 15, 2);
      const closed = await edge.edge.analytics.edge!.closeDue(true);
      assert.equal(closed.length, 1);
      assert.equal(await edge.edge.analytics.edge!.outbox.size(), 1);
      await edge[Symbol.asyncDispose]();
      kv.close();
      assert.equal(central.posts, 0);
    },
  );
  await t.step("second life: a POST the collector applied but never answered", async () => {
    const kv = await Deno.openKv(path);
    const edge = await startEdge(
      edgeConfig(central.url, {
        send: { timeoutMs: 200, baseBackoffMs: 1000, maxBackoffMs: 1000 },
      }),
      { kv, clock },
    );
    accepted += await ingest(edge, 5, 3);
    central.faults.push("apply_then_hang");
    await edge.edge.jobs.runNow("analytics-flush");
    assert.equal(central.posts, 1);
    assert.equal(
      (await central.stats()).total_events,
      15,
      "applied although the edge saw a timeout",
    );
    await edge[Symbol.asyncDispose]();
    kv.close();
  });
  await t.step("third life: everything is sent, each interval counted once", async () => {
    const kv = await Deno.openKv(path);
    clock.advance(120_000);
    const edge = await startEdge(edgeConfig(central.url), { kv, clock });
    await drain(edge);
    await edge[Symbol.asyncDispose]();
    kv.close();
    const stats = await central.stats();
    assert.equal(stats.total_events, accepted);
    assert.equal(stats.summaries, 2);
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("analytics: bad input is refused with reasons and nothing is stored", async (t) => {
  await using central = await startCentral();
  await using edge = await startEdge(edgeConfig(central.url, { maxBodyBytes: 64 * 1024 }));
  const ok = { user_id: "u1", event_type: "click" };
  const cases: Array<[string, unknown, number, RegExp]> = [
    ["oversized batch", { events: Array(101).fill(ok) }, 400, /More than 100 events/],
    ["wrong types", { events: [ok, { user_id: 1, event_type: ["x"] }] }, 400, /events\.1\.user_id/],
    [
      "huge properties",
      { events: [{ ...ok, properties: { x: "y".repeat(5000) } }] },
      400,
      /Larger than 4096/,
    ],
    [
      "future timestamp",
      { events: [{ ...ok, timestamp: Date.now() + 86_400_000 }] },
      400,
      /future/,
    ],
    [
      "body too large",
      { events: [{ ...ok, properties: { x: "y".repeat(70_000) } }] },
      413,
      /exceeds/,
    ],
  ];
  for (const [name, body, status, detail] of cases) {
    await t.step(name, async () => {
      const r = await postEvents(edge.url, body);
      assert.equal(r.res.status, status, r.text);
      assert.equal(r.res.headers.get("content-type"), "application/problem+json");
      assert.match((r.body as { detail: string }).detail, detail);
    });
  }
  await t.step("per-index reasons", async () => {
    const r = await postEvents(edge.url, {
      events: [ok, { user_id: "u 2", event_type: "t" }, { ...ok, timestamp: -1 }],
    });
    const errors = (r.body as { errors: Array<{ index: number; path: string }> }).errors;
    assert.deepEqual(errors.map((e) => [e.index, e.path]), [[1, "user_id"], [2, "timestamp"]]);
  });
  await t.step("invalid JSON and media type", async () => {
    const bad = await get(`${edge.url}/events`, {
      method: "POST",
      body: "{",
      headers: { "content-type": "application/json" },
    });
    assert.equal(bad.res.status, 400);
    const xml = await get(`${edge.url}/events`, {
      method: "POST",
      body: "<a/>",
      headers: { "content-type": "application/xml" },
    });
    assert.equal(xml.res.status, 415);
  });
  await t.step("nothing was stored", async () => {
    const counts = await get(`${edge.url}/events/counts?minutes=60`);
    assert.equal((counts.body as { total_events: number }).total_events, 0);
    assert.deepEqual(await edge.edge.analytics.edge!.outbox.openIntervals(), []);
    const user = await get(`${edge.url}/events/users/u1?minutes=60`);
    assert.deepEqual((user.body as { events: unknown[] }).events, []);
  });
  await t.step("?partial=true stores the valid ones and reports the rest", async () => {
    const r = await postEvents(edge.url, { events: [ok, { user_id: "u1" }] }, "?partial=true");
    assert.equal(r.res.status, 202);
    assert.equal((r.body as { accepted: number }).accepted, 1);
    assert.equal((r.body as { rejected: unknown[] }).rejected.length, 1);
  });
  await t.step("query validation", async () => {
    assert.equal((await get(`${edge.url}/events/counts?minutes=0`)).res.status, 400);
    assert.equal((await get(`${edge.url}/events/users/u1?minutes=abc`)).res.status, 400);
    assert.equal((await get(`${edge.url}/events/users/u1?cursor=zzz`)).res.status, 400);
    assert.equal((await get(`${edge.url}/events/users/${"x".repeat(200)}`)).res.status, 400);
    assert.equal((await get(`${edge.url}/events`)).res.status, 405);
    assert.equal((await get(`${edge.url}/_central/stats`)).res.status, 404, "role edge");
  });
});

Deno.test("analytics: tracked requests reach the node's own collector over HTTP (role both)", async () => {
  await using origin = startOrigin();
  const config = makeConfig(origin.url, {
    experiments: [],
    analytics: { track: { paths: ["/api/*"] } },
  });
  await using edge = await startEdge(config);
  edge.edge.analytics.setSelfUrl(edge.url);
  for (let i = 0; i < 3; i++) await get(`${edge.url}/api/echo?i=${i}`);
  await get(`${edge.url}/cacheable/not-tracked`);
  const posted = await postEvents(edge.url, { user_id: "u1", event_type: "signup" });
  assert.equal(posted.res.status, 202);
  await edge.edge.analytics.edge!.tracker.flush();
  const anon = anonymousId("127.0.0.1");
  const mine = await get(`${edge.url}/events/users/${anon}?minutes=5`);
  const events =
    (mine.body as { events: Array<{ event_type: string; properties: { status: number } }> }).events;
  assert.equal(events.length, 3);
  assert.equal(events[0].event_type, "page_view");
  assert.equal(events[0].properties.status, 200);
  edge.clock.advance(61_000);
  await edge.edge.jobs.runNow("analytics-flush");
  const stats = await get(`${edge.url}/_central/stats`, {
    headers: { authorization: "Bearer wrong" },
  });
  assert.equal(stats.res.status, 401);
  const withDevToken = await get(`${edge.url}/_central/stats`, {
    headers: { authorization: `Bearer ${DEV_CENTRAL_TOKEN}` },
  });
  assert.equal((withDevToken.body as { total_events: number }).total_events, 4);
  const central = edge.edge.analytics.central!;
  const totals = await central.stats();
  assert.equal(totals.total_events, 4);
  assert.deepEqual(totals.by_event_type, { page_view: 3, signup: 1 });
  assert.equal(
    edge.edge.metrics.counter("outpost_analytics_summaries_total", "").get({
      outcome: "delivered",
    }),
    1,
  );
});

Deno.test("POST /_edge/analytics/flush makes /_central/stats exact at once", async (t) => {
  const ADMIN = "admin-token-for-flush-tests";
  await using edge = await startEdge(makeConfig("http://127.0.0.1:1", {}, { ADMIN_TOKEN: ADMIN }));
  edge.edge.analytics.setSelfUrl(edge.url);
  const central = () =>
    get(`${edge.url}/_central/stats`, {
      headers: { authorization: `Bearer ${DEV_CENTRAL_TOKEN}` },
    });
  const flush = (headers: Record<string, string> = { authorization: `Bearer ${ADMIN}` }) =>
    get(`${edge.url}/_edge/analytics/flush`, { method: "POST", headers });

  await t.step("without it, the running interval is not sent yet", async () => {
    assert.equal(await ingest(edge, 5, 1), 5);
    assert.equal(((await central()).body as { total_events: number }).total_events, 0);
  });
  await t.step("operators only: the admin token is required", async () => {
    assert.equal((await flush({})).res.status, 401);
    assert.equal((await flush({ authorization: "Bearer wrong-token-0123456" })).res.status, 403);
  });
  await t.step("a flush closes the running interval and delivers it", async () => {
    const { res, body } = await flush();
    assert.equal(res.status, 200);
    assert.deepEqual(body, { closed: 1, delivered: 1, failed: 0, pending: 0 });
    assert.equal(((await central()).body as { total_events: number }).total_events, 5);
  });
  await t.step("later events join the next interval: nothing lost, nothing twice", async () => {
    assert.equal(await ingest(edge, 3, 2), 3);
    const again = await flush();
    assert.equal((again.body as { delivered: number }).delivered, 1);
    const empty = await flush();
    assert.deepEqual(empty.body, { closed: 0, delivered: 0, failed: 0, pending: 0 });
    edge.clock.advance(120_000);
    await edge.edge.jobs.runNow("analytics-flush");
    assert.equal(((await central()).body as { total_events: number }).total_events, 8);
  });
});

Deno.test("POST /_edge/analytics/flush is closed in production without ADMIN_TOKEN", async () => {
  await using edge = await startEdge(
    makeConfig("http://127.0.0.1:1", { mode: "production", analytics: { centralToken: TOKEN } }),
  );
  const { res, body } = await get(`${edge.url}/_edge/analytics/flush`, { method: "POST" });
  assert.equal(res.status, 503);
  assert.equal((body as { code: string }).code, "admin_not_configured");
});

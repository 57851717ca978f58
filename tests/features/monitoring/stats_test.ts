import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { LatencyHistogram } from "../../../lib/core/histogram.ts";
import { snapshotKey } from "../../../lib/features/monitoring/keys.ts";
import { unpackHistogram } from "../../../lib/features/monitoring/snapshot.ts";
import type { GlobalStats } from "../../../lib/features/monitoring/stats.ts";
import { get, makeConfig, startEdge, startOrigin, type TestEdge } from "../../helpers.ts";

const REGIONS = ["us-east", "eu-west", "ap-southeast"] as const;

Deno.test("GET /_edge/stats merges the snapshots of several nodes sharing one KV", async (t) => {
  await using origin = startOrigin();
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const edges: TestEdge[] = [];
  try {
    for (const region of REGIONS) {
      edges.push(
        await startEdge(makeConfig(origin.url, {}, { EDGE_REGION: region }), { kv, clock }),
      );
    }
    // Different traffic per node: 10/20/30 requests, one 5xx on eu-west, slow ones on ap.
    for (const [i, e] of edges.entries()) {
      for (let k = 0; k < (i + 1) * 10; k++) await get(`${e.url}/api/echo`);
    }
    await get(`${edges[1].url}/status/503`);
    for (let k = 0; k < 3; k++) await get(`${edges[2].url}/cacheable/x?delay_ms=60`);
    for (const e of edges) await e.edge.jobs.runNow("metrics.snapshot");

    const { res, body } = await get(`${edges[0].url}/_edge/stats`);
    assert.equal(res.status, 200);
    const stats = body as GlobalStats;

    await t.step("counts add up across nodes", () => {
      assert.equal(stats.edge_count, 3);
      assert.equal(stats.total_requests, 10 + 21 + 33);
      assert.equal(stats.requests, 64);
      assert.ok(Math.abs(stats.error_rate! - 1 / 64) < 1e-6);
      assert.deepEqual(stats.per_region.map((r) => r.region).sort(), [...REGIONS].sort());
      assert.deepEqual(stats.per_edge.map((p) => p.requests).sort((a, b) => a - b), [10, 21, 33]);
    });

    await t.step("percentiles come from the merged histograms, not averages", async () => {
      const merged = new LatencyHistogram();
      for (const region of REGIONS) {
        const snap = edges.find((e) => e.edge.config.region === region)!.edge.monitor.snapshot();
        merged.addEncoded(
          unpackHistogram(snap.window.latency),
          snap.window.sum_us,
          snap.window.max_us,
        );
      }
      assert.equal(stats.p99_ms, Math.round(merged.percentile(99)! * 1000) / 1000);
      assert.equal(stats.p50_ms, Math.round(merged.percentile(50)! * 1000) / 1000);
      assert.ok(stats.p99_ms! >= 60, "the slow requests dominate p99");
      const averaged = stats.per_edge.reduce((s, p) => s + p.p99_ms!, 0) / 3;
      assert.notEqual(stats.p99_ms, averaged);
      await Promise.resolve();
    });

    await t.step("the node answering reads itself live, others from KV", async () => {
      for (let k = 0; k < 5; k++) await get(`${edges[0].url}/api/echo`);
      const again = (await get(`${edges[0].url}/_edge/stats`)).body as GlobalStats;
      assert.equal(again.per_edge.find((p) => p.region === "us-east")!.requests, 15);
      assert.equal(again.per_edge.find((p) => p.region === "eu-west")!.requests, 21);
    });

    await t.step(
      "?region= narrows; unknown parameters are ignored; a bad region is a 400",
      async () => {
        const eu = (await get(`${edges[0].url}/_edge/stats?region=eu-west&foo=bar`))
          .body as GlobalStats;
        assert.equal(eu.edge_count, 1);
        assert.equal(eu.per_edge[0].region, "eu-west");
        const bad = await get(`${edges[0].url}/_edge/stats?region=Not%20A%20Region`);
        assert.equal(bad.res.status, 400);
        assert.equal(bad.res.headers.get("content-type"), "application/problem+json");
      },
    );

    await t.step("an expired snapshot is skipped even while KV still returns it", async () => {
      clock.advance(61_000);
      await edges[0].edge.jobs.runNow("metrics.snapshot");
      const late = (await get(`${edges[0].url}/_edge/stats`)).body as GlobalStats;
      assert.equal(late.edge_count, 1);
      assert.equal(late.skipped.expired, 2);
      // The window moved on too: only what edge 0 recorded in the last 5 minutes remains.
      assert.equal(late.per_edge[0].region, "us-east");
    });

    await t.step("a node that shuts down removes its snapshot", async () => {
      await edges[1].edge.jobs.runNow("metrics.snapshot");
      const key = snapshotKey("eu-west", edges[1].edge.monitor.nodeId);
      assert.ok((await kv.get(key)).value);
      await edges[1].edge.close();
      assert.equal((await kv.get(key)).value, null);
    });
  } finally {
    for (const e of edges) await e[Symbol.asyncDispose]();
    kv.close();
  }
});

Deno.test("GET /_edge/stats skips and counts corrupt and old-format snapshots", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  const good = e.edge.monitor.snapshot();
  const now = e.clock.now();
  await e.kv.set(snapshotKey("eu-west", "old1"), { v: 0, region: "eu-west", requests: 5 });
  await e.kv.set(snapshotKey("eu-west", "junk1"), "not a snapshot");
  await e.kv.set(snapshotKey("eu-west", "junk2"), {
    ...good,
    node_id: "junk2",
    region: "eu-west",
    window: { ...good.window, latency: "zz:-1" },
  });
  await e.kv.set(snapshotKey("eu-west", "junk3"), {
    ...good,
    node_id: "junk3",
    region: "eu-west",
    totals: [1, 2],
  });
  await e.kv.set(snapshotKey("eu-west", "liar"), {
    ...good,
    node_id: "someone-else",
    region: "eu-west",
  });
  await e.kv.set(snapshotKey("eu-west", "ok1"), {
    ...good,
    node_id: "ok1",
    region: "eu-west",
    at: now,
  });
  const { res, body } = await get(`${e.url}/_edge/stats`);
  assert.equal(res.status, 200);
  const stats = body as GlobalStats;
  assert.equal(stats.edge_count, 2);
  assert.deepEqual(stats.skipped, { corrupt: 4, old_format: 1, expired: 0 });
  const metrics = (await get(`${e.url}/_edge/metrics`)).text;
  assert.match(
    metrics,
    /outpost_metrics_snapshots_skipped_total\{reason="corrupt",region="us-east"\} 4/,
  );
});

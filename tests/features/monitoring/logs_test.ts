import assert from "node:assert/strict";
import { memoryLogger } from "../../../lib/core/log.ts";
import { get, makeConfig, startEdge, startOrigin } from "../../helpers.ts";

Deno.test("LOG_REQUESTS writes one JSON line per request", async (t) => {
  await using origin = startOrigin();
  await t.step(
    "on: request id, region, method, route, status, latency, cache, upstream",
    async () => {
      const log = memoryLogger("info");
      await using e = await startEdge(makeConfig(origin.url, {}, { LOG_REQUESTS: "true" }), {
        log,
      });
      const { res } = await get(`${e.url}/api/echo?secret=1`, {
        headers: { "x-request-id": "req-1" },
      });
      await get(`${e.url}/_edge/nope`);
      const lines = log.lines.filter((l) => l.msg === "request");
      assert.equal(lines.length, 2);
      const [api, miss] = lines;
      assert.equal(api.request_id, "req-1");
      assert.equal(api.request_id, res.headers.get("x-request-id"));
      assert.equal(api.region, "us-east");
      assert.equal(api.method, "GET");
      assert.equal(api.route, "api");
      assert.equal(api.path, "/api/echo", "no query string in logs");
      assert.equal(api.status, 200);
      assert.equal(typeof api.latency_ms, "number");
      assert.equal(api.cache, "none");
      assert.equal(api.upstream, "us-east");
      assert.equal(miss.status, 404);
      assert.equal(miss.route, "edge");
      assert.equal(miss.problem, "not_found");
      assert.equal(miss.upstream, null);
    },
  );
  await t.step("off (the default): no request lines", async () => {
    const log = memoryLogger("info");
    await using e = await startEdge(makeConfig(origin.url), { log });
    await get(`${e.url}/api/echo`);
    assert.equal(log.lines.filter((l) => l.msg === "request").length, 0);
  });
});

Deno.test("a KV failure under /_edge/stats is a logged 503, not a crash", async () => {
  await using origin = startOrigin();
  const log = memoryLogger("info");
  const kv = await Deno.openKv(":memory:");
  await using e = await startEdge(makeConfig(origin.url), { log, kv });
  kv.close();
  const { res, body } = await get(`${e.url}/_edge/stats`);
  assert.equal(res.status, 503);
  assert.equal((body as { code: string }).code, "stats_unavailable");
  const line = log.lines.find((l) => l.msg === "global stats unavailable: KV read failed");
  assert.ok(line, "logged");
  assert.equal(line.region, "us-east");
  assert.equal(typeof (line.error as { message: string }).message, "string");
  assert.equal((await get(`${e.url}/_edge/health`)).res.status, 200);
});

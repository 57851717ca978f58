import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { createLogger, silentLogger } from "../../../lib/core/log.ts";
import { HealthConditions } from "../../../lib/core/conditions.ts";
import { kvProbeKey } from "../../../lib/features/monitoring/keys.ts";
import { EdgeKv, KvUnavailableError, unavailableKv } from "../../../lib/features/deploy/kv.ts";
import { SharedKvProbe } from "../../../lib/features/deploy/shared_kv.ts";
import { makeConfig, startEdge, startOrigin } from "../../helpers.ts";

async function rejectsUnavailable(work: () => Promise<unknown>): Promise<void> {
  await assert.rejects(work, (e) => e instanceof KvUnavailableError && e.status === 503);
}

Deno.test("unavailableKv() fails every operation with 503 kv_unavailable", async () => {
  const kv = unavailableKv();
  await rejectsUnavailable(() => kv.get(["a"]));
  await rejectsUnavailable(() => kv.getMany([["a"]]));
  await rejectsUnavailable(() => kv.set(["a"], 1));
  await rejectsUnavailable(() => kv.delete(["a"]));
  await rejectsUnavailable(() => kv.atomic().check({ key: ["a"], versionstamp: null }).commit());
  await rejectsUnavailable(async () => {
    for await (const _ of kv.list({ prefix: [] })) break;
  });
  await rejectsUnavailable(() => kv.watch([["a"]]).getReader().read());
});

Deno.test("EdgeKv.open() without a KV API stays up, unhealthy, with the reason", async () => {
  const edgeKv = await EdgeKv.open({ env: {}, open: undefined, log: silentLogger });
  try {
    assert.equal(edgeKv.open, false);
    assert.equal(edgeKv.source, "platform");
    const check = edgeKv.check()();
    assert.equal(check?.level, "unhealthy");
    assert.match(check!.reason, /no Deno KV: this runtime has no Deno\.openKv/);
    await rejectsUnavailable(() => edgeKv.kv.get(["x"]));
  } finally {
    edgeKv.close();
  }
});

Deno.test("EdgeKv.open() retries a failed open and swaps the store in for every holder", async () => {
  let calls = 0;
  const edgeKv = await EdgeKv.open({
    env: {},
    open: (path) => {
      calls++;
      if (calls === 1) return Promise.reject(new Error("database is locked"));
      return Deno.openKv(path ?? ":memory:");
    },
    log: silentLogger,
    retry: { minMs: 3_600_000, maxMs: 3_600_000 }, // the test retries by hand
  });
  try {
    assert.equal(edgeKv.reason, "the platform's KV could not be opened");
    assert.match(edgeKv.check()()!.reason, /until it opens \(retrying\)/);
    const held = edgeKv.kv; // what the app was handed at start-up
    await rejectsUnavailable(() => held.get(["k"]));
    await edgeKv.retry();
    assert.equal(calls, 2);
    assert.equal(edgeKv.open, true);
    assert.equal(edgeKv.check()(), null);
    await held.set(["k"], "v");
    assert.equal((await held.get(["k"])).value, "v");
  } finally {
    edgeKv.close();
  }
});

Deno.test("EdgeKv.open() does not retry what only a redeploy can mend", async () => {
  const lines: string[] = [];
  const edgeKv = await EdgeKv.open({
    env: {},
    open: () =>
      Promise.reject(
        new TypeError("Deno.openKv() failed: no KV database is attached to this app."),
      ),
    log: createLogger({ sink: (_, line) => lines.push(line) }),
  });
  try {
    assert.match(edgeKv.reason!, /no KV database is assigned to this app on Deno Deploy/);
    assert.doesNotMatch(edgeKv.check()()!.reason, /retrying/);
    assert.equal(JSON.parse(lines.at(-1)!).retrying, false);
  } finally {
    edgeKv.close();
  }
});

Deno.test("EdgeKv.open() with KV_URL opens that URL with the access token", async (t) => {
  await t.step("KV_ACCESS_TOKEN is handed to the runtime as DENO_KV_ACCESS_TOKEN", async () => {
    const opened: Array<string | undefined> = [];
    const set: Record<string, string> = {};
    const edgeKv = await EdgeKv.open({
      url: "https://kv.example.com/db",
      env: { KV_ACCESS_TOKEN: "token-from-deploy" },
      setEnv: (name, value) => (set[name] = value),
      open: (path) => {
        opened.push(path);
        return Deno.openKv(":memory:");
      },
      log: silentLogger,
    });
    edgeKv.close();
    assert.deepEqual(opened, ["https://kv.example.com/db"]);
    assert.deepEqual(set, { DENO_KV_ACCESS_TOKEN: "token-from-deploy" });
    assert.equal(edgeKv.source, "url");
  });
  await t.step("without a token it does not try, and says which variables", async () => {
    const edgeKv = await EdgeKv.open({
      url: "https://kv.example.com/db",
      env: {},
      open: () => assert.fail("opened without a token"),
      log: silentLogger,
    });
    edgeKv.close();
    assert.match(
      edgeKv.reason!,
      /KV_URL is set but neither DENO_KV_ACCESS_TOKEN nor KV_ACCESS_TOKEN/,
    );
  });
  await t.step("the runtime's KV Connect client calls the URL with the token", async () => {
    // A stand-in for a denokv server: it records the first request and refuses it.
    const seen: Array<{ path: string; auth: string | null }> = [];
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
      seen.push({ path: new URL(req.url).pathname, auth: req.headers.get("authorization") });
      await req.body?.cancel();
      return new Response("no", { status: 401 });
    });
    const previous = Deno.env.get("DENO_KV_ACCESS_TOKEN");
    Deno.env.delete("DENO_KV_ACCESS_TOKEN");
    const url = `http://127.0.0.1:${server.addr.port}/kv`;
    const edgeKv = await EdgeKv.open({
      url,
      env: { KV_ACCESS_TOKEN: "denokv-token-0123" },
      log: silentLogger,
    });
    try {
      assert.equal(edgeKv.open, false);
      assert.equal(seen[0]?.path, "/kv");
      assert.equal(seen[0]?.auth, "Bearer denokv-token-0123");
      assert.doesNotMatch(edgeKv.reason!, /127\.0\.0\.1/, "health names no address");
    } finally {
      edgeKv.close();
      if (previous === undefined) Deno.env.delete("DENO_KV_ACCESS_TOKEN");
      else Deno.env.set("DENO_KV_ACCESS_TOKEN", previous);
      await server.shutdown();
    }
  });
});

Deno.test("an edge on an unopened KV serves pages, refuses KV work with 503, and says why", async () => {
  await using origin = startOrigin();
  const edgeKv = await EdgeKv.open({ env: {}, open: undefined, log: silentLogger });
  const config = makeConfig(origin.url);
  await using e = await startEdge(config, { kv: edgeKv.kv, edgeKv });
  const page = await fetch(`${e.url}/cacheable/a?max_age=60`);
  assert.equal(page.status, 200);
  await page.body?.cancel();
  const item = await fetch(`${e.url}/items/1`);
  assert.equal(item.status, 503);
  assert.equal((await item.json()).code, "kv_unavailable");
  const events = await fetch(`${e.url}/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ events: [{ user_id: "u", event_type: "click" }] }),
  });
  assert.equal(events.status, 503, "nothing is acknowledged that is not kept");
  await events.body?.cancel();
  const health = await fetch(`${e.url}/_edge/health`);
  assert.equal(health.status, 503);
  const body = await health.json();
  assert.equal(body.conditions["kv.database"], "unhealthy");
  edgeKv.close();
});

Deno.test("SharedKvProbe: an empty default store is suspect until another node shows up", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const conditions = new HealthConditions();
    const clock = new ManualClock(0);
    const first = new SharedKvProbe({ kv, clock, conditions, log: silentLogger, nodeId: "n1" });
    await first.start();
    assert.equal(conditions.list()[0]?.name, "kv.shared");
    assert.equal(conditions.list()[0]?.level, "degraded");
    await kv.set(kvProbeKey("unknown", "n1"), { at: 0 });
    await first.check();
    assert.equal(first.settled, false, "its own probe proves nothing");
    await kv.set(kvProbeKey("unknown", "n2"), { at: 0 });
    await first.check();
    assert.equal(first.settled, true);
    assert.deepEqual(conditions.list(), []);
    // A node that starts later finds the marker: the store outlived (or is shared with) another.
    const later = new HealthConditions();
    const second = new SharedKvProbe({
      kv,
      clock,
      conditions: later,
      log: silentLogger,
      nodeId: "n3",
    });
    await second.start();
    assert.equal(second.settled, true);
    assert.deepEqual(later.list(), []);
  } finally {
    kv.close();
  }
});

import assert from "node:assert/strict";
import { freePort, waitForHttp } from "../../bench/lib/process.ts";
import { spawnMain } from "./_spawn.ts";
import { startCentral, TOKEN } from "../features/analytics/_central.ts";
import { deadOrigin } from "../helpers.ts";

function spawnEdge(port: number, kvPath: string, centralUrl: string): Deno.ChildProcess {
  return spawnMain({
    PORT: String(port),
    EDGE_REGION: "us-east",
    KV_PATH: kvPath,
    ORIGIN_URL: deadOrigin(),
    OUTPOST_ROLE: "edge",
    ANALYTICS_CENTRAL_URL: centralUrl,
    CENTRAL_TOKEN: TOKEN,
    ANALYTICS_FLUSH_SECONDS: "1",
    LOG_LEVEL: "error",
  }, "null");
}
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function postEvents(port: number, n: number, tag: string): Promise<number> {
  const events = Array.from({ length: n }, (_, i) => ({
    user_id: `user-${i % 4}`,
    event_type: `${tag}-${i % 2}`,
  }));
  const res = await fetch(`http://127.0.0.1:${port}/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ events }),
  });
  const body = await res.json();
  assert.equal(res.status, 202);
  return body.accepted;
}

Deno.test("main.ts killed mid-flush (SIGKILL) sends its summaries after restart, each counted once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "outpost-e2e-analytics-" });
  const kvPath = `${dir}/edge.sqlite3`;
  await using central = await startCentral(["hang", "apply_then_hang"]);
  let accepted = 0;
  for (let life = 0; life < 3; life++) {
    const port = freePort();
    const child = spawnEdge(port, kvPath, central.url);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/_edge/health`);
      accepted += await postEvents(port, 10 + life, `life${life}`);
      if (life < 2) {
        // Killed while the collector holds the POST: after the outbox move, before any answer.
        await until(`hang ${life + 1}`, () => central.hangs === life + 1);
        child.kill("SIGKILL");
      } else {
        await until("exact totals", async () => (await central.stats()).total_events === accepted);
        child.kill("SIGTERM");
      }
    } finally {
      await child.status;
    }
  }
  const stats = await central.stats();
  assert.equal(stats.total_events, accepted);
  assert.equal(stats.by_edge["us-east/main"], accepted);
  // Life 0's summary (never applied) and life 1's (applied, answer lost) went out again.
  assert.ok(central.posts >= 4, `posts: ${central.posts}`);
  assert.equal(stats.by_event_type["life1-0"], 6);
  await Deno.remove(dir, { recursive: true });
});

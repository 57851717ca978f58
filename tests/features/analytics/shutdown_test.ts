import assert from "node:assert/strict";
import { makeConfig, startEdge, startOrigin } from "../../helpers.ts";

async function postEvents(url: string): Promise<void> {
  const res = await fetch(`${url}/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ events: [{ user_id: "u-1", event_type: "click" }] }),
  });
  assert.equal(res.status, 202);
  await res.body?.cancel();
}

Deno.test("AnalyticsEdge.shutdown() under the cron scheduler leaves the shared interval open", async (t) => {
  await using origin = startOrigin();
  for (const scheduler of ["cron", "timer"] as const) {
    await t.step(scheduler, async () => {
      await using e = await startEdge(makeConfig(origin.url, { analytics: { scheduler } }));
      const analytics = e.edge.analytics.edge!;
      await postEvents(e.url);
      assert.equal((await analytics.outbox.openIntervals()).length, 1);
      await analytics.shutdown(1000);
      await e.edge.close();
      const open = await analytics.outbox.openIntervals();
      const closed = await analytics.outbox.list();
      if (scheduler === "cron") {
        // Other isolates still write to it; the next cron run closes it.
        assert.equal(open.length, 1);
        assert.equal(closed.length, 0);
      } else {
        // One process per node: it closes its own interval on the way out (and sends it, or
        // keeps it in the outbox for the next start).
        assert.equal(open.length, 0);
      }
    });
  }
});

import assert from "node:assert/strict";
import { ingestKey } from "../../../lib/features/analytics/keys.ts";
import { get, makeConfig, startEdge } from "../../helpers.ts";
import { EDGE, makeEvent, makeFixture, T0 } from "./_helpers.ts";

Deno.test("EventStore.recordOnce() stores a batch once per key, even when sent at once", async () => {
  await using f = await makeFixture();
  const batch = [makeEvent("u1", "click", T0), makeEvent("u2", "view", T0)];
  const claim = { key: "k-1", fingerprint: "f1", accepted: 2 };
  // Ten concurrent sends of one batch, mixed with plain batches that may merge around them.
  const [once] = await Promise.all([
    Promise.all(Array.from({ length: 10 }, () => f.store.recordOnce(batch, claim))),
    f.store.record([makeEvent("u3", "click", T0)]),
    f.store.record([makeEvent("u4", "click", T0)]),
  ]);
  assert.equal(once.filter((r) => r === null).length, 1, "stored by exactly one");
  for (const r of once) {
    if (r !== null) assert.deepEqual([r.fingerprint, r.accepted], ["f1", 2]);
  }
  const counts = await f.store.counts(5);
  assert.deepEqual(counts.by_event_type, { click: 3, view: 1 });
  // Another key is another batch.
  assert.equal(await f.store.recordOnce(batch, { ...claim, key: "k-2" }), null);
  assert.deepEqual((await f.store.counts(5)).by_event_type, { click: 4, view: 2 });
});

Deno.test("EventStore.recordOnce() refuses a key holding what it cannot read", async () => {
  await using f = await makeFixture();
  await f.kv.set(ingestKey(EDGE, "old"), { v: 9, something: "else" });
  await assert.rejects(
    () =>
      f.store.recordOnce([makeEvent("u1", "click", T0)], {
        key: "old",
        fingerprint: "x",
        accepted: 1,
      }),
    /old/,
  );
  assert.deepEqual((await f.store.counts(5)).by_event_type, {});
});

Deno.test("POST /events with Idempotency-Key: a retried batch is stored once", async (t) => {
  await using edge = await startEdge(makeConfig("http://127.0.0.1:1"));
  const post = (body: unknown, key: string | null, query = "") =>
    get(`${edge.url}/events${query}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(key === null ? {} : { "idempotency-key": key }),
      },
      body: JSON.stringify(body),
    });
  const batch = {
    events: [
      { user_id: "u1", event_type: "click" },
      { user_id: "u1", event_type: "click", properties: { n: 2 } },
    ],
  };
  const total = async () =>
    ((await get(`${edge.url}/events/counts?minutes=60`)).body as { total_events: number })
      .total_events;

  await t.step("the first answer, then the same answer without storing again", async () => {
    const first = await post(batch, "order-7f3a");
    assert.equal(first.res.status, 202, first.text);
    assert.deepEqual(first.body, { accepted: 2 });
    assert.equal(first.res.headers.get("idempotent-replayed"), null);
    for (const key of ["order-7f3a", '"order-7f3a"']) {
      const again = await post(batch, key);
      assert.equal(again.res.status, 202);
      assert.deepEqual(again.body, { accepted: 2 });
      assert.equal(again.res.headers.get("idempotent-replayed"), "true");
    }
    assert.equal(await total(), 2);
    const user = await get(`${edge.url}/events/users/u1?minutes=60`);
    assert.equal((user.body as { events: unknown[] }).events.length, 2);
  });

  await t.step("the same key with another body or mode: 422, nothing stored", async () => {
    const other = await post({ events: [{ user_id: "u9", event_type: "click" }] }, "order-7f3a");
    assert.equal(other.res.status, 422);
    assert.equal((other.body as { code: string }).code, "idempotency_key_reused");
    const partial = await post(batch, "order-7f3a", "?partial=true");
    assert.equal(partial.res.status, 422);
    assert.equal(await total(), 2);
  });

  await t.step("malformed keys: 400 with the reason", async () => {
    for (const key of ["", "x".repeat(256), "two words", '"unclosed']) {
      const r = await post(batch, key);
      assert.equal(r.res.status, 400, JSON.stringify(key));
      assert.equal(r.res.headers.get("content-type"), "application/problem+json");
      assert.equal((r.body as { code: string }).code, "invalid_idempotency_key");
    }
    assert.equal(await total(), 2);
  });

  await t.step("an invalid batch claims nothing: fixed, it is stored under the key", async () => {
    const bad = await post({ events: [{ user_id: "u 1", event_type: "click" }] }, "k-bad");
    assert.equal(bad.res.status, 400);
    const fixed = await post({ events: [{ user_id: "u1", event_type: "view" }] }, "k-bad");
    assert.equal(fixed.res.status, 202);
    assert.equal(fixed.res.headers.get("idempotent-replayed"), null);
    assert.equal(await total(), 3);
  });

  await t.step("without a key every post is stored", async () => {
    await post(batch, null);
    await post(batch, null);
    assert.equal(await total(), 7);
  });

  await t.step("replays are counted in the metrics", async () => {
    const text = (await get(`${edge.url}/_edge/metrics`)).text;
    assert.match(
      text,
      /outpost_analytics_batches_repeated_total\{[^}]*outcome="replayed"[^}]*\} 2\n/,
    );
    assert.match(
      text,
      /outpost_analytics_batches_repeated_total\{[^}]*outcome="conflict"[^}]*\} 2\n/,
    );
  });
});

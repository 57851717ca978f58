import assert from "node:assert/strict";
import fc from "fast-check";
import {
  aggregatePrefix,
  closedIntervalKey,
  openIntervalKey,
} from "../../../lib/features/analytics/keys.ts";
import { buildSummary } from "../../../lib/features/analytics/summary.ts";
import { EDGE, INTERVAL_MS, makeEvent, makeFixture, T0 } from "./_helpers.ts";

Deno.test("EventStore.record() aggregates per type and per (type, user) in the open interval", async () => {
  await using f = await makeFixture();
  const ts = f.clock.now();
  const interval = await f.store.record([
    makeEvent("u1", "click", ts),
    makeEvent("u1", "click", ts),
    makeEvent("u2", "click", ts),
    makeEvent("u2", "view", ts - 120_000),
  ]);
  assert.equal(interval, T0);
  await f.store.record([makeEvent("u1", "view", ts)]);
  const summary = await buildSummary(f.kv, EDGE, { start: T0, end: T0 + INTERVAL_MS });
  assert.equal(summary.total_events, 5);
  assert.deepEqual(summary.counts.by_event_type, { click: 3, view: 2 });
  assert.deepEqual(summary.counts.by_user, {
    u1: { click: 2, view: 1 },
    u2: { click: 1, view: 1 },
  });
  const open = await f.kv.get<Deno.KvU64>(openIntervalKey(EDGE, T0));
  assert.equal(open.value?.value, 5n);
  const counts = await f.store.counts(5);
  assert.deepEqual(counts.by_event_type, { click: 3, view: 2 });
  assert.deepEqual((await f.store.counts(1)).by_event_type, { click: 3, view: 1 });
});

Deno.test("Outbox.close() moves an interval into the outbox in one step", async (t) => {
  await using f = await makeFixture();
  await f.store.record([makeEvent("u1", "click", f.clock.now())]);

  await t.step("open → closed: record created, counter gone, mark set", async () => {
    assert.deepEqual(await f.outbox.openIntervals(), [T0]);
    assert.equal(await f.outbox.close(T0), "closed");
    assert.deepEqual(await f.outbox.openIntervals(), []);
    assert.notEqual((await f.kv.get(closedIntervalKey(EDGE, T0))).versionstamp, null);
    const [entry] = await f.outbox.list();
    assert.equal(entry.record.total_events, 1);
    assert.equal(entry.record.attempts, 0);
    assert.equal(entry.record.interval_start, T0);
    assert.match(entry.record.idempotency_key, /^us-east\/main\/\d+\/[0-9A-Z]{26}$/);
  });
  await t.step("closing again or closing an empty interval changes nothing", async () => {
    assert.equal(await f.outbox.close(T0), "already_closed");
    assert.equal(await f.outbox.close(T0 + INTERVAL_MS), "empty");
    assert.equal(await f.outbox.size(), 1);
  });
  await t.step("a write arriving after the close goes to the next interval", async () => {
    const interval = await f.store.record([makeEvent("u9", "late", f.clock.now())]);
    assert.equal(interval, T0 + INTERVAL_MS);
    const frozen = await buildSummary(f.kv, EDGE, { start: T0, end: T0 + INTERVAL_MS });
    assert.equal(frozen.total_events, 1);
    assert.deepEqual(await f.outbox.openIntervals(), [T0 + INTERVAL_MS]);
  });
  await t.step(
    "failure is recorded; completion removes the record and then the aggregate",
    async () => {
      const [entry] = await f.outbox.list();
      assert.equal(await f.outbox.markFailed(entry, "HTTP 500", T0 + 5000), true);
      assert.equal(
        await f.outbox.markFailed(entry, "stale", T0 + 9000),
        false,
        "versionstamp checked",
      );
      const [failed] = await f.outbox.list();
      assert.equal(failed.record.attempts, 1);
      assert.equal(failed.record.next_attempt_at, T0 + 5000);
      assert.equal(failed.record.last_error, "HTTP 500");
      assert.equal(await f.outbox.complete(entry), false, "stale entry cannot complete");
      assert.equal(await f.outbox.complete(failed), true);
      assert.equal(await f.outbox.size(), 0);
      assert.ok(await f.outbox.collectGarbage() > 0);
      let left = 0;
      for await (const _ of f.kv.list({ prefix: aggregatePrefix(EDGE, T0) })) left++;
      assert.equal(left, 0);
      assert.equal(await f.outbox.collectGarbage(), 0);
    },
  );
});

Deno.test("Outbox.list() refuses records it cannot read instead of guessing", async () => {
  await using f = await makeFixture();
  await f.kv.set(["analytics", EDGE, "outbox", T0], { v: 99 });
  await assert.rejects(() => f.outbox.list(), /Unreadable outbox record/);
});

Deno.test("EventStore.record() and Outbox.close() racing never lose or double-count events", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 4 }),
      async (batches, closeAfter) => {
        await using f = await makeFixture();
        const work: Promise<unknown>[] = [];
        batches.forEach((size, i) => {
          const events = Array.from(
            { length: size },
            (_, k) => makeEvent(`u${k % 3}`, "t", f.clock.now()),
          );
          work.push(f.store.record(events));
          if (closeAfter.includes(i)) {
            work.push(
              f.outbox.openIntervals().then((open) =>
                Promise.all(open.map((o) => f.outbox.close(o)))
              ),
            );
          }
        });
        await Promise.all(work);
        for (const o of await f.outbox.openIntervals()) await f.outbox.close(o);
        let total = 0;
        for (const { record } of await f.outbox.list()) {
          const s = await buildSummary(f.kv, EDGE, {
            start: record.interval_start,
            end: record.interval_end,
          });
          assert.equal(s.total_events, record.total_events);
          total += record.total_events;
        }
        assert.equal(total, batches.reduce((a, b) => a + b, 0));
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("EventStore.userEvents() pages newest first and skips expired events", async () => {
  await using f = await makeFixture();
  const now = f.clock.now();
  const events = Array.from({ length: 7 }, (_, i) => makeEvent("u1", `e${i}`, now - i * 60_000));
  await f.store.record(events);
  await f.store.record([makeEvent("u2", "other", now)]);
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await f.store.userEvents("u1", { minutes: 5, limit: 2, cursor });
    seen.push(...page.events.map((e) => e.event_type));
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  assert.deepEqual(seen, ["e0", "e1", "e2", "e3", "e4", "e5"], "the window includes its start");
  f.clock.advance(24 * 3_600_000 - 2 * 60_000 + 1);
  const late = await f.store.userEvents("u1", { minutes: 24 * 60, limit: 100 });
  assert.deepEqual(late.events.map((e) => e.event_type), ["e0", "e1"], "expired ones are skipped");
  await assert.rejects(() => f.store.userEvents("u1", { minutes: 5, limit: 2, cursor: "nope" }));
});

Deno.test("EventStore.sweepMinuteCounts() deletes counts past retention only", async () => {
  await using f = await makeFixture();
  await f.store.record([makeEvent("u1", "a", f.clock.now())]);
  f.clock.advance(3_600_000);
  await f.store.record([makeEvent("u1", "b", f.clock.now())]);
  assert.equal(await f.store.sweepMinuteCounts(), 0);
  f.clock.advance(23.5 * 3_600_000);
  assert.equal(await f.store.sweepMinuteCounts(), 1);
  assert.deepEqual((await f.store.counts(24 * 60)).by_event_type, { b: 1 });
});

Deno.test("EventStore.record() merges concurrent batches into commits within KV limits", async () => {
  await using f = await makeFixture();
  const ts = f.clock.now();
  const batches = Array.from({ length: 20 }, (_, b) =>
    Array.from({ length: 100 }, (_, i) => ({
      ...makeEvent(`u${b}-${i}`, `t${i}`, ts - (i % 5) * 60_000),
      properties: { pad: "x".repeat(1000) },
    })));
  const intervals = await Promise.all(batches.map((events) => f.store.record(events)));
  assert.ok(intervals.every((i) => i === T0));
  const summary = await buildSummary(f.kv, EDGE, { start: T0, end: T0 + INTERVAL_MS });
  assert.equal(summary.total_events, 2000);
  assert.equal(Object.keys(summary.counts.by_user).length, 2000);
});

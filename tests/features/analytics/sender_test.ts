import assert from "node:assert/strict";
import fc from "fast-check";
import { backoffMs } from "../../../lib/features/analytics/interval.ts";
import { type SendOutcome, SummarySender } from "../../../lib/features/analytics/sender.ts";
import { SummarySchema } from "../../../lib/features/analytics/summary.ts";
import { silentLogger } from "../../../lib/core/log.ts";
import { type Fixture, INTERVAL_MS, makeEvent, makeFixture, T0 } from "./_helpers.ts";

interface Posted {
  key: string;
  auth: string | null;
  encoding: string | null;
  summary: unknown;
}

/** A fake collector: answers with `statuses` in turn (then 200), recording each post. */
function fakeCentral(statuses: Array<number | "throw">) {
  const posted: Posted[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const inflated = req.body!.pipeThrough(new DecompressionStream("gzip"));
    const summary = JSON.parse(await new Response(inflated).text());
    posted.push({
      key: req.headers.get("idempotency-key")!,
      auth: req.headers.get("authorization"),
      encoding: req.headers.get("content-encoding"),
      summary,
    });
    const status = statuses.shift() ?? 200;
    if (status === "throw") throw new TypeError("connection refused");
    return new Response("{}", { status });
  };
  return { posted, fetch: fetch as typeof globalThis.fetch };
}

function makeSender(
  f: Fixture,
  fetch: typeof globalThis.fetch,
  outcomes: SendOutcome[] = [],
  timeoutMs = 1000,
) {
  return new SummarySender({
    kv: f.kv,
    outbox: f.outbox,
    clock: f.clock,
    log: silentLogger,
    centralUrl: () => "http://central.test",
    token: "t".repeat(32),
    fetch,
    timeoutMs,
    baseBackoffMs: 1000,
    maxBackoffMs: 60_000,
    random: () => 1,
    onAttempt: (o) => outcomes.push(o),
  });
}

async function closeTwoIntervals(f: Fixture): Promise<void> {
  await f.store.record([makeEvent("u1", "a", f.clock.now()), makeEvent("u2", "a", f.clock.now())]);
  f.clock.advance(INTERVAL_MS);
  await f.store.record([makeEvent("u1", "b", f.clock.now())]);
  f.clock.advance(INTERVAL_MS);
  for (const i of await f.outbox.openIntervals()) assert.equal(await f.outbox.close(i), "closed");
}

Deno.test("SummarySender.sendDue() delivers oldest first and deletes only on 2xx", async (t) => {
  await using f = await makeFixture();
  await closeTwoIntervals(f);
  const central = fakeCentral([500, "throw", 200, 503]);
  const outcomes: SendOutcome[] = [];
  const sender = makeSender(f, central.fetch, outcomes);

  await t.step("a 500 keeps the record, counts the attempt and backs off", async () => {
    const report = await sender.sendDue();
    assert.deepEqual(report, { delivered: 0, failed: 1, pending: 2 });
    const [first, second] = await f.outbox.list();
    assert.equal(first.record.attempts, 1);
    assert.equal(first.record.next_attempt_at, f.clock.now() + 1000);
    assert.match(first.record.last_error ?? "", /HTTP 500/);
    assert.equal(second.record.attempts, 0, "newer records wait behind the oldest");
    assert.equal(central.posted.length, 1);
    assert.equal(
      central.posted[0].summary &&
        (central.posted[0].summary as { interval: { start: number } }).interval.start,
      T0,
    );
  });
  await t.step("nothing is sent before the back-off has passed", async () => {
    assert.deepEqual(await sender.sendDue(), { delivered: 0, failed: 0, pending: 2 });
    assert.equal(central.posted.length, 1);
  });
  await t.step("a network error doubles the back-off", async () => {
    f.clock.advance(1000);
    await sender.sendDue();
    const [first] = await f.outbox.list();
    assert.equal(first.record.attempts, 2);
    assert.equal(first.record.next_attempt_at, f.clock.now() + 2000);
    assert.match(first.record.last_error ?? "", /connection refused/);
  });
  await t.step(
    "after recovery the oldest is delivered, then the next fails and waits",
    async () => {
      f.clock.advance(2000);
      const report = await sender.sendDue();
      assert.deepEqual(report, { delivered: 1, failed: 1, pending: 1 });
      const [left] = await f.outbox.list();
      assert.equal(left.record.interval_start, T0 + INTERVAL_MS);
      assert.equal(left.record.attempts, 1);
    },
  );
  await t.step("every post carried the same key per interval, the token and gzip", () => {
    const keys = central.posted.map((p) => p.key);
    assert.equal(new Set(keys.slice(0, 3)).size, 1, "retries reuse the idempotency key");
    assert.notEqual(keys[3], keys[0]);
    for (const p of central.posted) {
      assert.equal(p.auth, `Bearer ${"t".repeat(32)}`);
      assert.equal(p.encoding, "gzip");
      assert.ok(SummarySchema.safeParse(p.summary).success);
    }
    assert.deepEqual(outcomes, ["http_error", "network_error", "delivered", "http_error"]);
  });
  await t.step("ignoreBackoff (shutdown) tries at once", async () => {
    const report = await sender.sendDue({ ignoreBackoff: true });
    assert.deepEqual(report, { delivered: 1, failed: 0, pending: 0 });
  });
});

Deno.test("SummarySender.sendDue() survives a restart: the schedule lives in KV", async () => {
  await using f = await makeFixture();
  await closeTwoIntervals(f);
  await makeSender(f, fakeCentral([500]).fetch).sendDue();
  const central = fakeCentral([]);
  const fresh = makeSender(f, central.fetch);
  assert.equal((await fresh.sendDue()).delivered, 0, "the new sender honours the stored back-off");
  f.clock.advance(1000);
  assert.equal((await fresh.sendDue()).delivered, 2);
  assert.equal(central.posted.length, 2);
});

Deno.test("SummarySender.sendDue() gives up an attempt after the timeout", async () => {
  await using f = await makeFixture();
  await closeTwoIntervals(f);
  const hang =
    ((_: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason));
      })) as typeof fetch;
  const outcomes: SendOutcome[] = [];
  const sender = makeSender(f, hang, outcomes, 50);
  await sender.sendDue();
  assert.deepEqual(outcomes, ["timeout"]);
  assert.match((await f.outbox.list())[0].record.last_error ?? "", /No answer within 50 ms/);
});

Deno.test("backoffMs() grows exponentially, is capped, and jitters within [d/2, d]", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 10, max: 10_000 }),
      fc.integer({ min: 10, max: 1_000_000 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (attempt, baseMs, extra, r) => {
        const maxMs = baseMs + extra;
        const d = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
        const got = backoffMs(attempt, { baseMs, maxMs, random: () => r });
        assert.ok(got >= Math.floor(d / 2) && got <= Math.ceil(d), `${got} vs ${d}`);
      },
    ),
  );
  assert.equal(backoffMs(3, { baseMs: 100, maxMs: 1e6, random: () => 1 }), 400);
  assert.equal(backoffMs(30, { baseMs: 100, maxMs: 5000, random: () => 0 }), 2500);
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { CasConflictError, casRetry, CONFLICT } from "../../../lib/platform/kv/cas_retry.ts";

/** A monotonic clock that only moves when the helper sleeps. */
function makeTime(random = () => 1) {
  const time = { now: 0, pauses: [] as number[] };
  return {
    time,
    options: {
      now: () => time.now,
      sleep: (ms: number) => {
        time.pauses.push(ms);
        time.now += ms;
        return Promise.resolve();
      },
      random,
    },
  };
}

Deno.test("casRetry() retries lost races until one commits", async () => {
  const { time, options } = makeTime();
  let conflicts = 0;
  const result = await casRetry("k", (n) => Promise.resolve(n < 5 ? CONFLICT : `won at ${n}`), {
    ...options,
    onConflict: () => conflicts++,
  });
  assert.equal(result, "won at 5");
  assert.equal(conflicts, 4);
  // random() = 1: every pause is its ceiling, 1, 2, 4, 8 ms (doubling from the base).
  assert.deepEqual(time.pauses, [1, 2, 4, 8]);
});

Deno.test("casRetry() never gives up before the deadline, however many races it loses", async () => {
  // Pauses of 0 ms (random() = 0): a thousand lost races take no time and stay within it.
  const { options } = makeTime(() => 0);
  const result = await casRetry("k", (n) => Promise.resolve(n <= 1000 ? CONFLICT : n), {
    ...options,
    deadlineMs: 1,
  });
  assert.equal(result, 1001);
});

Deno.test("casRetry() gives up at the deadline with CasConflictError", async () => {
  const { time, options } = makeTime();
  const error = await casRetry("set crowd", () => Promise.resolve(CONFLICT), {
    ...options,
    deadlineMs: 1000,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof CasConflictError);
  assert.equal(time.now, 1000, "the last pause ends exactly at the deadline");
  assert.equal(error.waitedMs, 1000);
  assert.match(
    error.message,
    /^Too much contention on set crowd: no commit within 1000 ms \(\d+ attempts\)$/,
  );
  assert.ok(time.pauses.every((p) => p <= 100), "pauses are capped at maxDelayMs");
});

Deno.test("casRetry() pauses stay within their jitter bounds and the deadline (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
        minLength: 1,
        maxLength: 60,
      }),
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 1, max: 10 }),
      fc.integer({ min: 10, max: 200 }),
      async (randoms, deadlineMs, baseDelayMs, maxDelayMs) => {
        let i = 0;
        const { time, options } = makeTime(() => randoms[i++ % randoms.length]);
        const wins = randoms.length;
        let attempts = 0;
        const outcome = await casRetry("k", (n) => {
          attempts = n;
          return Promise.resolve(n > wins ? "ok" : CONFLICT);
        }, { ...options, deadlineMs, baseDelayMs, maxDelayMs }).catch((e) => e);
        time.pauses.forEach((p, k) => {
          assert.ok(p >= 0);
          assert.ok(p <= Math.min(maxDelayMs, baseDelayMs * 2 ** k) + 1e-9);
        });
        assert.ok(time.now <= deadlineMs + 1e-9, "never sleeps past the deadline");
        if (outcome instanceof CasConflictError) {
          assert.ok(time.now >= deadlineMs, "gave up only once the deadline was reached");
          assert.equal(outcome.attempts, attempts);
        } else {
          assert.equal(outcome, "ok");
        }
      },
    ),
  );
});

Deno.test("casRetry() stops when its signal aborts", async () => {
  const controller = new AbortController();
  const { options } = makeTime();
  await assert.rejects(
    casRetry("k", (n) => {
      if (n === 3) controller.abort(new Error("shutting down"));
      return Promise.resolve(CONFLICT);
    }, { ...options, signal: controller.signal }),
    /shutting down/,
  );
});

Deno.test("casRetry() with a lane runs one writer of a key at a time in its scope", async (t) => {
  const scope = {};
  let running = 0;
  let most = 0;
  const write = (what: string, laneScope: object) =>
    casRetry(what, async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 1));
      running--;
      return what;
    }, { lane: laneScope });

  await t.step("same key, same scope: queued in order", async () => {
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => write("set a", scope).then(() => order.push(i))),
    );
    assert.equal(most, 1);
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
  });
  await t.step("other keys or other scopes do not wait", async () => {
    most = 0;
    await Promise.all([write("set a", scope), write("set b", scope), write("set a", {})]);
    assert.equal(most, 3);
  });
  await t.step("a writer whose deadline passes while queued gives up without trying", async () => {
    let release!: () => void;
    const blocker = casRetry("set c", () => new Promise<string>((r) => (release = () => r("x"))), {
      lane: scope,
    });
    let tried = false;
    const error = await casRetry("set c", () => {
      tried = true;
      return Promise.resolve("y");
    }, { lane: scope, deadlineMs: 5 }).then(() => null, (e) => e);
    assert.ok(error instanceof CasConflictError);
    assert.equal(error.attempts, 0);
    assert.equal(tried, false);
    release();
    assert.equal(await blocker, "x");
    // The queue is empty again: the next writer goes at once.
    assert.equal(await casRetry("set c", () => Promise.resolve("z"), { lane: scope }), "z");
  });
  await t.step("an attempt that throws releases the lane", async () => {
    await assert.rejects(
      casRetry("set d", () => Promise.reject(new Error("boom")), { lane: scope }),
      /boom/,
    );
    assert.equal(await casRetry("set d", () => Promise.resolve(1), { lane: scope }), 1);
  });
});

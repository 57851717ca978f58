import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../../../lib/core/clock.ts";
import { available, gcra, type GcraRate } from "../../../lib/features/authz/gcra.ts";

/** The reference: a token bucket in integer milliseconds of credit (capacity burst × T). */
class BucketModel {
  #credit: number;
  constructor(readonly t: number, readonly burst: number) {
    this.#credit = t * burst;
  }
  advance(ms: number): void {
    this.#credit = Math.min(this.t * this.burst, this.#credit + ms);
  }
  take(): boolean {
    if (this.#credit < this.t) return false;
    this.#credit -= this.t;
    return true;
  }
  get remaining(): number {
    return Math.floor(this.#credit / this.t);
  }
}

/** Drives gcra() with a ManualClock like a caller storing the TAT would. */
class Driver {
  tat: number | null = null;
  constructor(readonly rate: GcraRate, readonly clock: ManualClock) {}
  take() {
    const r = gcra(this.rate, this.tat, this.clock.now());
    if (r.allowed) this.tat = r.tat;
    return r;
  }
}

Deno.test("gcra() allows a burst, then the steady rate, then resets", async (t) => {
  const rate = { limit: 10, windowMs: 10_000, burst: 5 }; // one per second, five at once
  const clock = new ManualClock();
  const d = new Driver(rate, clock);
  await t.step("burst", () => {
    for (let i = 0; i < 5; i++) {
      const r = d.take();
      assert.equal(r.allowed, true, `request ${i}`);
      assert.equal(r.remaining, 4 - i);
    }
    const denied = d.take();
    assert.equal(denied.allowed, false);
    assert.equal(denied.retryAfterMs, 1000);
    assert.equal(denied.resetMs, 5000);
    assert.equal(denied.remaining, 0);
  });
  await t.step("steady rate: one per emission interval", () => {
    for (let i = 0; i < 20; i++) {
      clock.advance(999);
      assert.equal(d.take().allowed, false, "not yet");
      clock.advance(1);
      assert.equal(d.take().allowed, true, "exactly on time");
    }
  });
  await t.step("reset: a quiet period refills the burst, no more", () => {
    clock.advance(60_000);
    assert.equal(available(rate, d.tat, clock.now()), 5);
    for (let i = 0; i < 5; i++) assert.equal(d.take().allowed, true);
    assert.equal(d.take().allowed, false);
  });
  await t.step("a quantity is all or nothing", () => {
    clock.advance(3000);
    assert.equal(gcra(rate, d.tat, clock.now(), 4).allowed, false);
    const r = gcra(rate, d.tat, clock.now(), 3);
    assert.equal(r.allowed, true);
    assert.equal(r.remaining, 0);
  });
});

Deno.test("gcra() agrees with a token-bucket model (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }), // limit
      fc.integer({ min: 1, max: 20 }), // emission interval in ms (windowMs = limit × t)
      fc.integer({ min: 1, max: 30 }), // burst
      fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 300 }),
      (limit, t, burst, gaps) => {
        const rate = { limit, windowMs: limit * t, burst };
        const clock = new ManualClock(1_000_000);
        const d = new Driver(rate, clock);
        const model = new BucketModel(t, burst);
        for (const gap of gaps) {
          clock.advance(gap);
          model.advance(gap);
          const r = d.take();
          assert.equal(r.allowed, model.take());
          assert.equal(r.remaining, model.remaining);
          if (!r.allowed) assert.ok(r.retryAfterMs > 0 && r.retryAfterMs <= t);
        }
      },
    ),
    { numRuns: 300 },
  );
});

import assert from "node:assert/strict";
import { ManualClock } from "../../lib/clock.ts";
import { OriginHealth } from "../../lib/proxy/breaker.ts";

function makeHealth(clock = new ManualClock()) {
  const transitions: string[] = [];
  const health = new OriginHealth({
    failureThreshold: 3,
    cooldownMs: 10_000,
    clock,
    onTransition: (origin, from, to) => transitions.push(`${origin}:${from}->${to}`),
  });
  return { health, clock, transitions };
}

Deno.test("OriginHealth opens after consecutive failures and half-opens after the cool-down", () => {
  const { health, clock, transitions } = makeHealth();
  const o = "http://a";
  assert.ok(health.tryAcquire(o));
  health.failure(o, "refused");
  health.failure(o, "refused");
  assert.ok(health.isAvailable(o));
  health.failure(o, "refused");
  assert.ok(!health.isAvailable(o));
  assert.ok(!health.tryAcquire(o));
  clock.advance(9_999);
  assert.ok(!health.tryAcquire(o));
  clock.advance(1);
  assert.ok(health.tryAcquire(o), "the trial request");
  assert.ok(!health.tryAcquire(o), "only one trial at a time");
  health.success(o);
  assert.ok(health.tryAcquire(o));
  assert.deepEqual(transitions, [
    "http://a:closed->open",
    "http://a:open->half-open",
    "http://a:half-open->closed",
  ]);
});

Deno.test("OriginHealth re-opens at once when the trial fails", () => {
  const { health, clock } = makeHealth();
  const o = "http://a";
  for (let i = 0; i < 3; i++) health.failure(o, "x");
  clock.advance(10_000);
  assert.ok(health.tryAcquire(o));
  health.failure(o, "still down");
  assert.ok(!health.isAvailable(o));
  assert.equal(health.nextRetryAt([o]), clock.now() + 10_000);
  assert.equal(health.snapshot()[o].state, "open");
});

Deno.test("OriginHealth resets the failure count on success", () => {
  const { health } = makeHealth();
  const o = "http://a";
  health.failure(o, "x");
  health.failure(o, "x");
  health.success(o);
  health.failure(o, "x");
  health.failure(o, "x");
  assert.ok(health.isAvailable(o));
});

Deno.test("OriginHealth.release() frees a trial without judging the origin", () => {
  const { health, clock } = makeHealth();
  const o = "http://a";
  for (let i = 0; i < 3; i++) health.failure(o, "x");
  clock.advance(10_000);
  assert.ok(health.tryAcquire(o));
  health.release(o);
  assert.ok(health.tryAcquire(o));
});

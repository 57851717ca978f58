import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../../../lib/core/clock.ts";
import { type AllOutMode, OriginHealth } from "../../../lib/features/proxy/breaker.ts";
import { firstSegment, pathGrouper } from "../../../lib/features/proxy/path_group.ts";

function makeHealth(options: { whenAllOut?: AllOutMode; maxGroups?: number } = {}) {
  const clock = new ManualClock();
  const transitions: string[] = [];
  const health = new OriginHealth({
    failureThreshold: 3,
    cooldownMs: 10_000,
    clock,
    ...options,
    onTransition: (origin, from, to, _reason, group) =>
      transitions.push(`${origin}${group === null ? "" : ` ${group}`}:${from}->${to}`),
  });
  return { health, clock, transitions };
}

const A = "http://a";
const B = "http://b";

Deno.test("OriginHealth opens after consecutive transport failures and half-opens after the cool-down", () => {
  const { health, clock, transitions } = makeHealth();
  assert.ok(health.tryAcquire(A));
  health.failure(A, "refused");
  health.failure(A, "refused");
  assert.ok(health.isAvailable(A));
  health.failure(A, "refused");
  assert.ok(!health.isAvailable(A));
  assert.ok(!health.tryAcquire(A));
  clock.advance(9_999);
  assert.ok(!health.tryAcquire(A));
  clock.advance(1);
  assert.ok(health.tryAcquire(A), "the trial request");
  assert.ok(!health.tryAcquire(A), "only one trial at a time");
  health.success(A);
  assert.ok(health.tryAcquire(A));
  assert.deepEqual(transitions, [
    "http://a:closed->open",
    "http://a:open->half-open",
    "http://a:half-open->closed",
  ]);
});

Deno.test("OriginHealth re-opens at once when the trial fails", () => {
  const { health, clock } = makeHealth();
  for (let i = 0; i < 3; i++) health.failure(A, "x");
  clock.advance(10_000);
  assert.ok(health.tryAcquire(A));
  health.failure(A, "still down");
  assert.ok(!health.isAvailable(A));
  assert.equal(health.snapshot()[A].retryAt, clock.now() + 10_000);
  assert.equal(health.snapshot()[A].state, "open");
});

Deno.test("OriginHealth resets the failure count on success", () => {
  const { health } = makeHealth();
  health.failure(A, "x");
  health.failure(A, "x");
  health.success(A);
  health.failure(A, "x");
  health.failure(A, "x");
  assert.ok(health.isAvailable(A));
});

Deno.test("OriginHealth.release() frees a trial without judging the origin", () => {
  const { health, clock } = makeHealth();
  for (let i = 0; i < 3; i++) health.failure(A, "x");
  clock.advance(10_000);
  assert.ok(health.tryAcquire(A));
  health.release(A);
  assert.ok(health.tryAcquire(A));
});

Deno.test("OriginHealth counts statuses per origin and path group only", async (t) => {
  const { health, clock, transitions } = makeHealth();
  await t.step("a failing group opens for that origin alone", () => {
    for (let i = 0; i < 3; i++) health.statusFailure(A, "/status", "Answered 503");
    assert.ok(!health.isAvailable(A, "/status"));
    assert.ok(health.isAvailable(A, "/api"), "other groups of the origin are served");
    assert.ok(health.isAvailable(A), "the origin itself answered: it is in rotation");
    assert.ok(health.isAvailable(B, "/status"), "other origins serve the group");
    assert.deepEqual(transitions, ["http://a /status:closed->open"]);
  });
  await t.step("an answer closes the origin's transport circuit", () => {
    for (let i = 0; i < 3; i++) health.failure(B, "refused");
    assert.ok(!health.isAvailable(B));
    health.statusFailure(B, "/status", "Answered 500");
    assert.ok(health.isAvailable(B), "B answered");
  });
  await t.step("the snapshot lists groups under their origin", () => {
    const snap = health.snapshot();
    assert.equal(snap[A].state, "closed");
    assert.equal(snap[A].paths?.["/status"].state, "open");
    assert.equal(snap[A].paths?.["/status"].lastError, "Answered 503");
  });
  await t.step("after the cool-down the group gets its trial; a success closes it", () => {
    clock.advance(10_000);
    assert.ok(health.tryAcquire(A, "/status"));
    assert.ok(!health.tryAcquire(A, "/status"), "one trial");
    assert.ok(health.tryAcquire(A, "/api"), "other groups are not held up by the trial");
    health.success(A, "/status");
    assert.equal(health.snapshot()[A].paths?.["/status"].state, "closed");
  });
});

Deno.test("OriginHealth keeps at most maxGroups path-group circuits, forgetting closed ones first", () => {
  const { health } = makeHealth({ maxGroups: 3 });
  for (let i = 0; i < 3; i++) health.statusFailure(A, "/open", "x");
  health.statusFailure(A, "/one", "x");
  health.success(A, "/one");
  health.statusFailure(A, "/two", "x");
  health.statusFailure(A, "/three", "x");
  const paths = Object.keys(health.snapshot()[A].paths ?? {}).sort();
  assert.deepEqual(paths, ["/open", "/three", "/two"], "the closed /one was forgotten");
  for (let i = 0; i < 100; i++) health.statusFailure(A, `/g${i}`, "x");
  assert.equal(Object.keys(health.snapshot()[A].paths ?? {}).length, 3);
});

Deno.test("OriginHealth.tryProbe() when every origin is out", async (t) => {
  await t.step(
    "probe mode: one trial at once, ignoring the cool-down; the next once it ended",
    () => {
      const { health } = makeHealth({ whenAllOut: "probe" });
      for (let i = 0; i < 3; i++) health.failure(A, "refused");
      assert.ok(health.allOut([A]));
      assert.ok(health.tryProbe(A), "no cool-down to wait for");
      assert.ok(!health.tryProbe(A), "while the probe is in flight");
      health.failure(A, "refused");
      assert.ok(health.tryProbe(A), "the previous probe finished");
      health.success(A);
      assert.ok(!health.allOut([A]));
    },
  );
  await t.step("probe mode: a probe never reported is presumed lost after a cool-down", () => {
    const { health, clock } = makeHealth({ whenAllOut: "probe" });
    for (let i = 0; i < 3; i++) health.failure(A, "refused");
    assert.ok(health.tryProbe(A));
    clock.advance(9_999);
    assert.ok(!health.tryProbe(A));
    clock.advance(1);
    assert.ok(health.tryProbe(A));
  });
  await t.step("panic mode: always sent; the outcome still moves the circuit", () => {
    const { health } = makeHealth({ whenAllOut: "panic" });
    for (let i = 0; i < 3; i++) health.failure(A, "refused");
    assert.ok(health.tryProbe(A));
    assert.ok(health.tryProbe(A));
    health.success(A);
    assert.equal(health.snapshot()[A].state, "closed");
  });
});

Deno.test("OriginHealth.outOfRotation() names origins that failed within the last cool-down", () => {
  const { health, clock } = makeHealth();
  for (let i = 0; i < 3; i++) health.failure(A, "refused");
  health.failure(B, "refused");
  assert.deepEqual(health.outOfRotation([A, B]), [A]);
  clock.advance(9_999);
  assert.deepEqual(health.outOfRotation([A, B]), [A]);
  clock.advance(1);
  assert.deepEqual(health.outOfRotation([A, B]), [], "idle: due for a trial, not counted out");
  assert.ok(health.tryAcquire(A));
  health.failure(A, "still refused");
  assert.deepEqual(health.outOfRotation([A, B]), [A], "a failed trial counts again");
});

/**
 * The law behind "never black out by ourselves": whatever happened before, a request sent when
 * no other is in flight is admitted to some origin (in normal rotation or as a probe), so a
 * recovered origin serves the very next request.
 */
Deno.test("OriginHealth admits a request whenever none is in flight (property)", () => {
  type Op =
    | { kind: "request"; origin: number; outcome: "ok" | "refused" | "status" }
    | { kind: "advance"; ms: number };
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("request" as const),
      origin: fc.integer({ min: 0, max: 2 }),
      outcome: fc.constantFrom("ok" as const, "refused" as const, "status" as const),
    }),
    fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 20_000 }) }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom<AllOutMode>("probe", "panic"),
      fc.integer({ min: 1, max: 3 }),
      fc.array(op, { maxLength: 80 }),
      (mode, count, ops) => {
        const { health, clock } = makeHealth({ whenAllOut: mode });
        const origins = ["http://a", "http://b", "http://c"].slice(0, count);
        const group = "/g";
        for (const o of ops) {
          if (o.kind === "advance") {
            clock.advance(o.ms);
            continue;
          }
          // One request at a time: choose like the forwarder does.
          const allOut = health.allOut(origins, group);
          const chosen = origins.find((x) =>
            allOut ? health.tryProbe(x, group) : health.tryAcquire(x, group)
          );
          assert.ok(chosen !== undefined, "a request with none in flight is always sent");
          const target = origins[o.origin % count];
          if (chosen !== target) {
            health.success(chosen, group);
            continue;
          }
          if (o.outcome === "ok") health.success(chosen, group);
          else if (o.outcome === "refused") health.failure(chosen, "refused", group);
          else health.statusFailure(chosen, group, "Answered 503");
        }
      },
    ),
  );
});

Deno.test("pathGrouper() groups by the first matching pattern, else the first segment", () => {
  const group = pathGrouper(["/api/v2/*", "/health"]);
  assert.equal(group("/api/v2/users/1"), "/api/v2/*");
  assert.equal(group("/api/v2"), "/api/v2/*");
  assert.equal(group("/api/v1/users"), "/api");
  assert.equal(group("/health"), "/health");
  assert.equal(group("/status/500"), "/status");
  assert.equal(group("/"), "/");
  assert.equal(firstSegment("/index.html"), "/index.html");
  assert.equal(firstSegment(`/${"x".repeat(500)}/y`).length, 100, "long segments are cut");
});

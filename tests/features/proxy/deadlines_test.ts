import assert from "node:assert/strict";
import fc from "fast-check";
import { DeadlineQueue, type DeadlineTimers } from "../../../lib/features/proxy/deadlines.ts";

/** A clock and a timer table moved by hand: `advance` runs what came due, in order. */
class FakeTimers implements DeadlineTimers {
  time = 0;
  readonly #timers = new Map<number, { at: number; callback: () => void; keepAlive: boolean }>();
  #next = 1;

  now(): number {
    return this.time;
  }
  set(callback: () => void, delayMs: number): number {
    const id = this.#next++;
    this.#timers.set(id, { at: this.time + delayMs, callback, keepAlive: true });
    return id;
  }
  ref(timer: unknown, keepAlive: boolean): void {
    const t = this.#timers.get(timer as number);
    if (t === undefined) throw new Error("ref() of a timer that already ran");
    t.keepAlive = keepAlive;
  }
  /** Timers set and not yet run. */
  get armed(): number {
    return this.#timers.size;
  }
  /** Timers that would keep a process alive. */
  get alive(): number {
    return [...this.#timers.values()].filter((t) => t.keepAlive).length;
  }
  advance(ms: number): void {
    const end = this.time + ms;
    while (true) {
      let due: [number, { at: number; callback: () => void; keepAlive: boolean }] | null = null;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (due === null || entry[1].at < due[1].at)) due = entry;
      }
      if (due === null) break;
      this.#timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
    }
    this.time = end;
  }
}

Deno.test("DeadlineQueue calls what expires, in order, on one timer, and never what was cancelled", () => {
  const timers = new FakeTimers();
  const q = new DeadlineQueue(100, { timers });
  const fired: string[] = [];
  const a = q.add(() => fired.push("a"));
  timers.advance(30);
  const b = q.add(() => fired.push("b"));
  timers.advance(30);
  q.add(() => fired.push("c"));
  assert.equal(timers.armed, 1, "one timer for three deadlines");
  q.cancel(b);
  timers.advance(40); // a is due (t=100)
  assert.deepEqual(fired, ["a"]);
  q.cancel(a); // already expired: nothing happens
  timers.advance(59); // t=159: c (t=160) not yet
  assert.deepEqual(fired, ["a"]);
  timers.advance(1);
  assert.deepEqual(fired, ["a", "c"]);
  assert.equal(q.size, 0);
  assert.equal(timers.armed, 0, "nothing pending: no timer");
});

Deno.test("DeadlineQueue keeps one timer across idle moments, never keeping the process up", () => {
  const timers = new FakeTimers();
  const q = new DeadlineQueue(1000, { timers });
  const fired: number[] = [];
  const d = q.add(() => {
    throw new Error("must not run");
  });
  assert.equal(timers.alive, 1);
  q.cancel(d);
  assert.equal(timers.alive, 0, "nothing pending: the timer no longer keeps the process alive");
  timers.advance(500);
  q.add(() => fired.push(1)); // due at t=1500: the same timer (t=1000) serves, held again
  assert.equal(timers.armed, 1);
  assert.equal(timers.alive, 1);
  timers.advance(500); // the timer fires with nothing due, and waits for the next one
  assert.deepEqual(fired, []);
  assert.equal(timers.alive, 1);
  timers.advance(500);
  assert.deepEqual(fired, [1]);
  assert.equal(timers.armed, 0, "nothing pending when it fired: not set again");
});

Deno.test("DeadlineQueue reports a callback's error and still runs the others", () => {
  const timers = new FakeTimers();
  const errors: unknown[] = [];
  const q = new DeadlineQueue(10, { timers, onError: (e) => errors.push(e) });
  const fired: number[] = [];
  q.add(() => {
    throw new Error("boom");
  });
  q.add(() => fired.push(2));
  // A deadline added while expiring is kept for its own time (one timer still).
  q.add(() => q.add(() => fired.push(3)));
  timers.advance(10);
  assert.deepEqual(fired, [2]);
  assert.equal((errors[0] as Error).message, "boom");
  assert.equal(timers.armed, 1);
  timers.advance(10);
  assert.deepEqual(fired, [2, 3]);
  assert.throws(() => new DeadlineQueue(-1), RangeError);
});

Deno.test("DeadlineQueue: every deadline runs exactly at its time unless cancelled first (model)", () => {
  type Op = { kind: "add" } | { kind: "cancel"; index: number } | { kind: "wait"; ms: number };
  const op = fc.oneof(
    fc.constant<Op>({ kind: "add" }),
    fc.nat(20).map((index): Op => ({ kind: "cancel", index })),
    fc.integer({ min: 0, max: 70 }).map((ms): Op => ({ kind: "wait", ms })),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 50 }), fc.array(op, { maxLength: 60 }), (ms, ops) => {
      const timers = new FakeTimers();
      const q = new DeadlineQueue(ms, { timers });
      const handles: ReturnType<DeadlineQueue["add"]>[] = [];
      const model: Array<{ at: number; cancelled: boolean; firedAt: number | null }> = [];
      for (const o of ops) {
        if (o.kind === "add") {
          const i = model.length;
          model.push({ at: timers.time + ms, cancelled: false, firedAt: null });
          handles.push(q.add(() => (model[i].firedAt = timers.time)));
        } else if (o.kind === "cancel" && o.index < handles.length) {
          if (model[o.index].firedAt === null) model[o.index].cancelled = true;
          q.cancel(handles[o.index]);
        } else if (o.kind === "wait") timers.advance(o.ms);
      }
      timers.advance(ms + 1);
      for (const m of model) {
        assert.equal(m.firedAt, m.cancelled ? null : m.at);
      }
      assert.equal(q.size, 0);
      assert.equal(timers.alive, 0);
    }),
  );
});

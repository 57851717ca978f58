import assert from "node:assert/strict";
import { ManualClock } from "../../lib/core/clock.ts";
import { Jobs } from "../../lib/core/jobs.ts";
import { memoryLogger } from "../../lib/core/log.ts";
import { MetricsRegistry } from "../../lib/core/metrics.ts";

Deno.test("Jobs.runNow() logs and counts failures with context", async () => {
  const log = memoryLogger();
  const jobs = new Jobs(log, new ManualClock(1000));
  let calls = 0;
  jobs.add({
    name: "flaky",
    intervalMs: 1000,
    run: () => {
      calls++;
      return calls < 3 ? Promise.reject(new Error(`boom ${calls}`)) : Promise.resolve();
    },
  });
  await jobs.runNow("flaky");
  await jobs.runNow("flaky");
  let stats = jobs.stats().flaky;
  assert.equal(stats.failures, 2);
  assert.equal(stats.consecutiveFailures, 2);
  assert.equal(stats.lastError, "boom 2");
  assert.equal(stats.lastRunAt, 1000);
  assert.equal(log.lines.length, 2);
  assert.equal(log.lines[1].job, "flaky");
  assert.equal(log.lines[1].level, "error");
  assert.equal((log.lines[1].error as { message: string }).message, "boom 2");
  await jobs.runNow("flaky");
  stats = jobs.stats().flaky;
  assert.equal(stats.consecutiveFailures, 0);
  assert.equal(stats.runs, 3);
  await jobs.stop();
});

Deno.test("Jobs never runs one job twice at once", async () => {
  const jobs = new Jobs(memoryLogger());
  let running = 0;
  let max = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  jobs.add({
    name: "slow",
    intervalMs: 1000,
    run: async () => {
      running++;
      max = Math.max(max, running);
      await gate;
      running--;
    },
  });
  const a = jobs.runNow("slow");
  const b = jobs.runNow("slow");
  release();
  await Promise.all([a, b]);
  assert.equal(max, 1);
  assert.equal(jobs.stats().slow.runs, 1);
  await jobs.stop();
});

Deno.test("Jobs.stop() signals running jobs and waits within the grace period", async () => {
  const jobs = new Jobs(memoryLogger());
  let sawAbort = false;
  jobs.add({
    name: "long",
    intervalMs: 1000,
    run: (signal) =>
      new Promise<void>((resolve) => {
        signal.addEventListener("abort", () => {
          sawAbort = true;
          resolve();
        });
      }),
  });
  const run = jobs.runNow("long");
  await jobs.stop(10);
  await run;
  assert.ok(sawAbort);
});

Deno.test("Jobs.add() rejects bad specs", () => {
  const jobs = new Jobs(memoryLogger());
  jobs.add({ name: "a", intervalMs: 1, run: async () => {} });
  assert.throws(() => jobs.add({ name: "a", intervalMs: 1, run: async () => {} }), /already/);
  assert.throws(() => jobs.add({ name: "b", intervalMs: 0, run: async () => {} }), /interval/);
});

Deno.test("Jobs counts runs and failures in metrics", async () => {
  const metrics = new MetricsRegistry();
  const jobs = new Jobs(memoryLogger(), new ManualClock(), metrics);
  jobs.add({ name: "x", intervalMs: 1000, run: () => Promise.reject(new Error("no")) });
  await jobs.runNow("x");
  await jobs.runNow("x");
  assert.equal(metrics.counter("outpost_job_runs_total", "").get({ job: "x" }), 2);
  assert.equal(metrics.counter("outpost_job_failures_total", "").get({ job: "x" }), 2);
  await jobs.stop();
});

Deno.test("Jobs.summary() lists only the failing jobs", async () => {
  const jobs = new Jobs(memoryLogger());
  jobs.add({ name: "ok", intervalMs: 1000, run: () => Promise.resolve() });
  jobs.add({ name: "bad", intervalMs: 1000, run: () => Promise.reject(new Error("down")) });
  await jobs.runNow("ok");
  await jobs.runNow("bad");
  assert.deepEqual(jobs.summary(), {
    total: 2,
    failing: { bad: { consecutive_failures: 1, last_error: "down" } },
  });
  await jobs.stop();
});

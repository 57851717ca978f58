/**
 * Measures the accuracy trade-off of the rate limiter's local allowance: simulated isolates share
 * one KV and take requests for one user; the admitted count is compared with an exact GCRA over
 * the same arrivals, and KV commits per request show what the allowance saves.
 * Run: deno run -A bench/authz_accuracy.ts   (deterministic: a manual clock, :memory: KV)
 */

import { ManualClock } from "../lib/core/clock.ts";
import { gcra } from "../lib/features/authz/gcra.ts";
import { type RateClass, RateLimiter } from "../lib/features/authz/rate_limiter.ts";

interface Scenario {
  name: string;
  isolates: number;
  /** Requests per second offered, in total. */
  offered: number;
  allowance: number;
}

const CLASS: RateClass = { name: "acc", limit: 600, windowS: 60, windowMs: 60_000, burst: 100 };
const SECONDS = 120;

async function run(s: Scenario): Promise<string> {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const start = clock.now();
  const limiters = Array.from(
    { length: s.isolates },
    () => new RateLimiter({ kv, clock, localAllowance: s.allowance, leaseMs: 1000 }),
  );
  const gap = 1000 / s.offered;
  let admitted = 0;
  let exact = 0;
  let tat: number | null = null;
  let n = 0;
  for (let t = 0; t < SECONDS * 1000; t += gap, n++) {
    clock.set(start + Math.round(t));
    // Round-robin over isolates, as a load balancer would spread one user's requests.
    const r = await limiters[n % s.isolates].take(CLASS, { kind: "user", id: "u" });
    if (r.allowed) admitted++;
    const m = gcra(CLASS, tat, clock.now());
    if (m.allowed) {
      exact++;
      tat = m.tat;
    }
  }
  await Promise.all(limiters.map((l) => l.idle()));
  const commits = limiters.reduce((a, l) => a + l.kvCommits, 0);
  kv.close();
  const diff = ((admitted - exact) / exact * 100).toFixed(1);
  return `| ${s.name} | ${s.isolates} | ${s.offered} | ${s.allowance} | ${n} | ${exact} | ` +
    `${admitted} | ${diff}% | ${(commits / n).toFixed(3)} |`;
}

const scenarios: Scenario[] = [];
for (const allowance of [1, 10, 50]) {
  for (const [isolates, offered] of [[1, 5], [1, 20], [4, 20], [4, 100], [16, 100]]) {
    scenarios.push({ name: `${offered}/s over ${isolates}`, isolates, offered, allowance });
  }
}

console.log(
  `Limit ${CLASS.limit}/${CLASS.windowS}s (10/s), burst ${CLASS.burst}, lease 1 s, ` +
    `${SECONDS} s of simulated traffic from one user.\n`,
);
console.log(
  "| traffic | isolates | offered/s | allowance | requests | exact GCRA admits | admitted | " +
    "difference | KV commits per request |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const s of scenarios) console.log(await run(s));

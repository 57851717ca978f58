/**
 * The cost of metrics recording under load: the same routes on two edge processes, one recording metrics
 * (`METRICS_ENABLED=true`, the default) and one not, side by side in alternating rounds.
 * Routes: `/_edge/health` (the node's own overhead) and a proxied `/api/echo`; after the cache
 * lands, a cached GET belongs here too. Target: metrics on ≥ 95% of metrics off.
 * Usage: deno run -A bench/load/metrics.ts [--duration 5] [--connections 50] [--rounds 3]
 */

import { edgeSettled, freePort, hasTaskset, type Server, startDeno } from "../lib/process.ts";
import { type LoadOptions, type LoadSuite, runStandalone, withRatios } from "../lib/report.ts";
import { cpuLine, cpuShare, hasWrk, runWrkRounds } from "../lib/wrk.ts";

async function startEdge(metrics: boolean, cpus: string | undefined): Promise<Server> {
  const port = freePort();
  return await startDeno(["run", "-A", "main.ts"], {
    cwd: new URL("../../", import.meta.url).pathname,
    env: {
      PORT: String(port),
      ORIGIN_PORT: String(freePort()),
      KV_PATH: ":memory:",
      LOG_LEVEL: "error",
      OUTPOST_MODE: "development",
      METRICS_ENABLED: String(metrics),
      // /api/* is protected by default; this suite measures recording, not authorization.
      AUTHZ_ENABLED: "false",
    },
    readyUrl: `http://127.0.0.1:${port}/_edge/health?verbose=1`,
    ready: edgeSettled,
    cpus,
  });
}

/** Runs the suite and returns it. */
export async function run(opts: LoadOptions = {}): Promise<LoadSuite> {
  const title = "Metrics recording: on vs off, same routes";
  const baseline = "/_edge/health, metrics off";
  if (!(await hasWrk())) return withRatios(title, baseline, [], [], ["wrk"]);
  const pin = await hasTaskset();
  const on = await startEdge(true, pin ? "1" : undefined);
  const off = await startEdge(false, pin ? "1" : undefined);
  try {
    const durationS = opts.durationS ?? 5;
    const connections = opts.connections ?? 50;
    const rounds = opts.rounds ?? 3;
    for (const url of [`${on.url}/api/echo`, `${off.url}/api/echo`]) {
      const check = await fetch(url);
      await check.body?.cancel();
      if (check.status !== 200) throw new Error(`${url} answered ${check.status}, not 200`);
    }
    const rows = await runWrkRounds([
      { name: baseline, url: `${off.url}/_edge/health`, pid: off.pid },
      { name: "/_edge/health, metrics on", url: `${on.url}/_edge/health`, pid: on.pid },
      { name: "/api/echo (proxied), metrics off", url: `${off.url}/api/echo`, pid: off.pid },
      { name: "/api/echo (proxied), metrics on", url: `${on.url}/api/echo`, pid: on.pid },
    ], { durationS, connections, threads: 1, rounds, cpus: pin ? "0" : undefined });
    const ratio = (a: string, b: string) => {
      const x = rows.find((r) => r.name === a)!, y = rows.find((r) => r.name === b)!;
      const per = x.samples.map((s, i) => s / y.samples[i]).sort((p, q) => p - q);
      return `${(per[Math.floor(per.length / 2)] * 100).toFixed(1)}%`;
    };
    return withRatios(title, baseline, rows, [
      `wrk -t1 -c${connections} -d${durationS}s, median of ${rounds} alternating rounds ` +
      `(samples: ${rows.map((r) => `${r.name} ${r.samples.join("/")}`).join("; ")}).`,
      `Metrics on vs off, median of per-round ratios: /_edge/health ${
        ratio("/_edge/health, metrics on", baseline)
      }, /api/echo ${
        ratio("/api/echo (proxied), metrics on", "/api/echo (proxied), metrics off")
      } (target ≥ 95%).`,
      `By server CPU per request (steadier when the machine is shared): /_edge/health ${
        cpuShare(rows, "/_edge/health, metrics on", baseline)
      }, /api/echo ${
        cpuShare(rows, "/api/echo (proxied), metrics on", "/api/echo (proxied), metrics off")
      } (${cpuLine(rows)}).`,
      pin
        ? "Both edges pinned to CPU 1 (only one is loaded at a time), wrk to CPU 0; each edge runs its demo origin in-process."
        : "taskset missing: servers and wrk share the cores.",
      "/_edge/* requests are recorded in the lifetime metrics but not in the health window.",
    ]);
  } finally {
    await on.stop();
    await off.stop();
  }
}

if (import.meta.main) await runStandalone("metrics", run);

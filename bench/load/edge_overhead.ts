/**
 * The edge node's own overhead under load, side by side in one run: bare `Deno.serve` hello world, the edge's
 * `/_edge/health` (its own overhead) and a proxied `/api/echo` (edge + demo origin).
 * Servers are pinned to CPU 1 and wrk to CPU 0 when `taskset` exists; each target is measured in
 * alternating rounds and the median round is reported.
 * Usage: deno run -A bench/load/edge_overhead.ts [--duration 5] [--connections 50] [--rounds 3]
 */

import { edgeSettled, freePort, hasTaskset, startDeno } from "../lib/process.ts";
import { type LoadOptions, type LoadSuite, runStandalone, withRatios } from "../lib/report.ts";
import { cpuLine, cpuShare, hasWrk, runWrkRounds } from "../lib/wrk.ts";

/** Runs the suite and returns it. */
export async function run(opts: LoadOptions = {}): Promise<LoadSuite> {
  const title = "Edge node overhead: /_edge/health and proxied /api/echo vs bare Deno.serve";
  if (!(await hasWrk())) return withRatios(title, "bare Deno.serve", [], [], ["wrk"]);
  const pin = await hasTaskset();
  const serverCpus = pin ? "1" : undefined;
  const root = new URL("../../", import.meta.url).pathname;
  const helloPort = freePort();
  const edgePort = freePort();
  const originPort = freePort();
  const hello = await startDeno(["run", "-A", "bench/servers/hello.ts"], {
    cwd: root,
    env: { PORT: String(helloPort) },
    readyUrl: `http://127.0.0.1:${helloPort}/`,
    cpus: serverCpus,
  });
  const edge = await startDeno(["run", "-A", "main.ts"], {
    cwd: root,
    env: {
      PORT: String(edgePort),
      ORIGIN_PORT: String(originPort),
      KV_PATH: ":memory:",
      LOG_LEVEL: "error",
      OUTPOST_MODE: "development",
      AUTHZ_ENABLED: "false", // the node's own overhead, without authorization (see bench/load/authz.ts)
    },
    readyUrl: `http://127.0.0.1:${edgePort}/_edge/health?verbose=1`,
    ready: edgeSettled,
    cpus: serverCpus,
  });
  try {
    const durationS = opts.durationS ?? 5;
    const connections = opts.connections ?? 50;
    const rows = await runWrkRounds([
      { name: "bare Deno.serve", url: `http://127.0.0.1:${helloPort}/`, pid: hello.pid },
      {
        name: "edge /_edge/health",
        url: `http://127.0.0.1:${edgePort}/_edge/health`,
        pid: edge.pid,
      },
      {
        name: "edge /api/echo (proxied)",
        url: `http://127.0.0.1:${edgePort}/api/echo`,
        pid: edge.pid,
      },
    ], {
      durationS,
      connections,
      threads: 1,
      rounds: opts.rounds ?? 3,
      cpus: pin ? "0" : undefined,
    });
    return withRatios(title, "bare Deno.serve", rows, [
      `wrk -t1 -c${connections} -d${durationS}s, median of ${
        opts.rounds ?? 3
      } alternating rounds ` +
      `(samples: ${rows.map((r) => `${r.name} ${r.samples.join("/")}`).join("; ")}).`,
      pin
        ? "Servers pinned to CPU 1, wrk to CPU 0 (taskset); the demo origin runs inside the edge process, on the same core."
        : "taskset missing: servers and wrk share the cores.",
      `Server CPU per request (user+system, median round; the edge's includes its in-process ` +
      `demo origin): ${cpuLine(rows)}.`,
      `Target: /_edge/health ≥ 60% of bare Deno.serve: ${
        cpuShare(rows, "edge /_edge/health", "bare Deno.serve")
      } by CPU per request.`,
    ]);
  } finally {
    await edge.stop();
    await hello.stop();
  }
}

if (import.meta.main) await runStandalone("edge_overhead", run);

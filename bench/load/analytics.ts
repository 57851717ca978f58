/**
 * Analytics ingest under load: `POST /events` throughput with wrk (batches of 10 and 100
 * events, bodies from a Lua script), reported as events/s, plus the bandwidth reduction of
 * `bench/analytics_bandwidth.ts` as notes. The edge runs as `main.ts` (role both, file KV in a
 * temp dir, the flush job running) pinned to CPU 1, wrk to CPU 0 when `taskset` exists.
 * Usage: deno run -A bench/load/analytics.ts [--duration 5] [--connections 50] [--rounds 3]
 */

import { bandwidthMarkdown, measureBandwidth } from "../analytics_bandwidth.ts";
import { edgeSettled, freePort, hasTaskset, startDeno } from "../lib/process.ts";
import { type LoadOptions, type LoadSuite, runStandalone, withRatios } from "../lib/report.ts";
import { hasWrk, runWrkRounds } from "../lib/wrk.ts";

const TYPES = ["page_view", "click", "scroll", "add_to_cart", "search"];

function batchBody(size: number): string {
  const events = Array.from({ length: size }, (_, i) => ({
    user_id: `user-${String((i * 37) % 1000).padStart(4, "0")}`,
    event_type: TYPES[i % TYPES.length],
    properties: { path: `/products/${i}` },
  }));
  return JSON.stringify({ events });
}

async function luaScript(dir: string, size: number): Promise<string> {
  const path = `${dir}/events_${size}.lua`;
  await Deno.writeTextFile(
    path,
    [
      'wrk.method = "POST"',
      'wrk.headers["Content-Type"] = "application/json"',
      `wrk.body = [==[${batchBody(size)}]==]`,
      "",
    ].join("\n"),
  );
  return path;
}

/** Runs the suite and returns it. */
export async function run(opts: LoadOptions = {}): Promise<LoadSuite> {
  const title = "Analytics ingest: POST /events throughput in events/s";
  const bandwidth = [await measureBandwidth(100_000, 1), await measureBandwidth(100_000, 10)];
  const bandwidthNotes = bandwidth.map((r) =>
    `Bandwidth, ${r.workload}: ${r.receivedBytes} raw bytes received, ${r.sentBytes} summary bytes sent, ${
      r.reduction.toFixed(1)
    }× reduction (central total ${r.centralTotal}).`
  );
  if (!(await hasWrk())) return withRatios(title, "batch of 10", [], bandwidthNotes, ["wrk"]);
  const pin = await hasTaskset();
  const dir = await Deno.makeTempDir({ prefix: "outpost-bench-analytics-" });
  const port = freePort();
  const root = new URL("../../", import.meta.url).pathname;
  const edge = await startDeno(["run", "-A", "main.ts"], {
    cwd: root,
    env: {
      PORT: String(port),
      ORIGIN_PORT: String(freePort()),
      KV_PATH: `${dir}/edge.sqlite3`,
      LOG_LEVEL: "error",
      OUTPOST_MODE: "development",
    },
    readyUrl: `http://127.0.0.1:${port}/_edge/health?verbose=1`,
    ready: edgeSettled,
    cpus: pin ? "1" : undefined,
  });
  try {
    const durationS = opts.durationS ?? 5;
    const connections = opts.connections ?? 20;
    const rounds = opts.rounds ?? 3;
    const url = `http://127.0.0.1:${port}/events`;
    const rows = await runWrkRounds([
      { name: "batch of 10", url, options: { script: await luaScript(dir, 10) } },
      { name: "batch of 100", url, options: { script: await luaScript(dir, 100) } },
    ], { durationS, connections, threads: 1, rounds, cpus: pin ? "0" : undefined });
    const perRequest: Record<string, number> = { "batch of 10": 10, "batch of 100": 100 };
    return withRatios(title, "batch of 10", rows, [
      ...rows.map((r) =>
        `${r.name}: ${Math.round(r.requestsPerSec * perRequest[r.name])} events/s ` +
        `(${Math.round(r.requestsPerSec)} requests/s × ${perRequest[r.name]}; non-2xx ${r.non2xx}).`
      ),
      `wrk -t1 -c${connections} -d${durationS}s, median of ${rounds} alternating rounds; ` +
      "file-backed KV (SQLite) in a temp dir; each request is one KV commit.",
      pin ? "Edge pinned to CPU 1, wrk to CPU 0 (taskset)." : "taskset missing: shared cores.",
      ...bandwidthNotes,
    ]);
  } finally {
    await edge.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  await runStandalone("analytics", run);
  console.log("\n" + bandwidthMarkdown([await measureBandwidth(100_000, 1)]));
}

/**
 * `deno task bench`: every micro-benchmark (`bench/*_bench.ts`, through `deno bench --json`),
 * every load comparison (`bench/load/*.ts`), the items staleness, origin faults, WebSocket and
 * cold start measurements (with the start-up profile) and where a forward's CPU goes (bench/
 * forward_profile.ts), in one run, into
 * `bench/results/latest.{json,md}`, with every load ratio side by side in one summary table.
 * Peers that are not installed (wrk, nginx, taskset) are named in the report, not fatal.
 * Options: see `deno task bench --help` (bench/lib/args.ts).
 */

import { BENCH_USAGE, BenchUsageError, parseBenchArgs } from "./lib/args.ts";
import { measureStaleness, type ModeResult, stalenessMarkdown } from "./items_staleness.ts";
import {
  measureOriginFaults,
  originFaultsMarkdown,
  type OriginFaultsResult,
} from "./origin_faults.ts";
import { coldStartMarkdown, type ColdStartResult, measureColdStart } from "./cold_start.ts";
import { measureWebSocket, websocketMarkdown, type WebSocketResult } from "./websocket.ts";
import { findNginx } from "./lib/nginx.ts";
import { hasTaskset } from "./lib/process.ts";
import { type LoadSuite, loadSuiteMarkdown, writeResult } from "./lib/report.ts";
import { hasWrk } from "./lib/wrk.ts";
import { profileStartup, type StageTiming, startupMarkdown } from "./startup_profile.ts";
import {
  forwardProfileMarkdown,
  type ProfiledTarget,
  profileForwarding,
} from "./forward_profile.ts";

interface MicroRow {
  file: string;
  group: string | null;
  name: string;
  avgNs: number;
  p75Ns: number;
  p99Ns: number;
  minNs: number;
}

// Before anything runs: --help and bad options must not start an 8-minute suite.
let args;
try {
  args = parseBenchArgs(Deno.args);
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error;
  console.error(`${error.message}\n${BENCH_USAGE}`);
  Deno.exit(2);
}
if (args === null) {
  console.log(BENCH_USAGE);
  Deno.exit(0);
}
const { only, quick } = args;
const here = new URL("./", import.meta.url);

async function files(dir: URL, suffix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(suffix) && !entry.name.startsWith("_")) {
      if (!only || entry.name.includes(only)) out.push(entry.name);
    }
  }
  return out.sort();
}

async function runMicro(file: string): Promise<{ rows: MicroRow[]; error?: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", "--json", new URL(file, here).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const start = text.indexOf("{");
  if (out.code !== 0 || start < 0) {
    return { rows: [], error: new TextDecoder().decode(out.stderr).slice(-500) };
  }
  const json = JSON.parse(text.slice(start)) as {
    benches: Array<
      { group?: string; name: string; results: Array<{ ok?: Record<string, number> }> }
    >;
  };
  const rows = json.benches.flatMap((b) => {
    const ok = b.results[0]?.ok;
    return ok
      ? [{
        file,
        group: b.group ?? null,
        name: b.name,
        avgNs: ok.avg,
        p75Ns: ok.p75,
        p99Ns: ok.p99,
        minNs: ok.min,
      }]
      : [];
  });
  return { rows };
}

function ns(n: number): string {
  return n >= 1e6
    ? `${(n / 1e6).toFixed(2)} ms`
    : n >= 1e3
    ? `${(n / 1e3).toFixed(2)} µs`
    : `${n.toFixed(0)} ns`;
}

const startedAt = new Date().toISOString();
const peers = {
  wrk: await hasWrk(),
  nginx: (await findNginx()) !== null,
  taskset: await hasTaskset(),
};
const micro: MicroRow[] = [];
const errors: string[] = [];
for (const file of await files(here, "_bench.ts")) {
  console.log(`deno bench ${file} …`);
  const result = await runMicro(file);
  micro.push(...result.rows);
  if (result.error) errors.push(`${file}: ${result.error}`);
}

const load: LoadSuite[] = [];
const opts = args.load;
for (const file of await files(new URL("load/", here), ".ts")) {
  console.log(`load ${file} …`);
  try {
    const mod = await import(new URL(`load/${file}`, here).href) as {
      run: (o: typeof opts) => Promise<LoadSuite>;
    };
    load.push(await mod.run(opts));
  } catch (error) {
    errors.push(`${file}: ${(error as Error).message}`);
  }
}

let staleness: ModeResult[] | null = null;
if (!only || "items_staleness".includes(only)) {
  console.log("items staleness …");
  try {
    staleness = await measureStaleness(quick ? 30 : 200);
  } catch (error) {
    errors.push(`items_staleness: ${(error as Error).message}`);
  }
}

let originFaults: OriginFaultsResult | null = null;
if (!only || "origin_faults".includes(only)) {
  console.log("origin faults …");
  try {
    originFaults = await measureOriginFaults();
  } catch (error) {
    errors.push(`origin_faults: ${(error as Error).message}`);
  }
}

let coldStart: ColdStartResult | null = null;
let startup: StageTiming[] | null = null;
if (!only || "cold_start".includes(only)) {
  console.log("cold start …");
  try {
    coldStart = await measureColdStart(quick ? 3 : 5, quick ? 1 : 3);
    startup = await profileStartup(quick ? 3 : 7);
  } catch (error) {
    errors.push(`cold_start: ${(error as Error).message}`);
  }
}

let websocket: WebSocketResult | null = null;
if (!only || "websocket".includes(only)) {
  console.log("websocket …");
  try {
    websocket = await measureWebSocket(quick);
  } catch (error) {
    errors.push(`websocket: ${(error as Error).message}`);
  }
}

let forwardProfile: ProfiledTarget[] | null = null;
if ((!only || "forward_profile".includes(only)) && await hasWrk()) {
  console.log("forward profile …");
  try {
    forwardProfile = await profileForwarding(quick ? 3 : 8);
  } catch (error) {
    errors.push(`forward_profile: ${(error as Error).message}`);
  }
}

const missing = [...new Set(load.flatMap((s) => s.missing))];
const peerLines = [
  `- wrk: ${
    peers.wrk ? "found" : "MISSING — the load comparisons were not measured (apt-get install wrk)"
  }`,
  `- nginx: ${
    peers.nginx ? "found" : "MISSING — the cache suite's nginx proxy_cache peer was not measured"
  }`,
  `- taskset: ${
    peers.taskset
      ? "found (servers on CPU 1, wrk on CPU 0)"
      : "missing — servers and wrk share the cores"
  }`,
  ...missing.map((m) => `- not measured by a suite: ${m}`),
];

const pct = (r: number | null) => (r === null ? "n/a" : `${(r * 100).toFixed(1)}%`);
const summary = load.flatMap((s) =>
  s.rows.map((r) =>
    `| ${s.suite} | ${r.name} | ${
      Number.isFinite(r.requestsPerSec) ? r.requestsPerSec.toFixed(0) : "n/a"
    } | ${pct(r.ratio)} | ${s.baseline} |`
  )
);

const lines = [
  `# Outpost benchmarks`,
  "",
  `Run at ${startedAt} on ${Deno.build.target}, ${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}${
    quick ? " (--quick)" : ""
  }.`,
  "",
  "## Peers",
  "",
  ...peerLines,
  "",
  "## Load ratios side by side",
  "",
  "| suite | target | requests/s | vs baseline | baseline |",
  "| --- | --- | ---: | ---: | --- |",
  ...(summary.length ? summary : ["| (none measured) | | | | |"]),
  "",
  "## Micro-benchmarks (`deno bench`)",
  "",
  "| file | benchmark | avg | p75 | p99 |",
  "| --- | --- | ---: | ---: | ---: |",
  ...micro.map((r) =>
    `| ${r.file} | ${r.name} | ${ns(r.avgNs)} | ${ns(r.p75Ns)} | ${ns(r.p99Ns)} |`
  ),
  "",
  "## Load comparisons (`wrk`)",
  "",
  ...load.map(loadSuiteMarkdown).flatMap((md) => [md, ""]),
  "## Other measurements",
  "",
  "The analytics bandwidth reduction (`bench/analytics_bandwidth.ts`) is in the analytics suite's",
  "notes above. The multi-region latency figures come from `deno task sim` (`sim-results/`).",
  "",
  ...(staleness ? [stalenessMarkdown(staleness, "###"), ""] : []),
  ...(originFaults ? [originFaultsMarkdown(originFaults, "###"), ""] : []),
  ...(coldStart ? [coldStartMarkdown(coldStart, "###"), ""] : []),
  ...(startup
    ? [
      "### Where start-up goes (bench/startup_profile.ts)",
      "",
      startupMarkdown(startup, quick ? 3 : 7),
      "",
    ]
    : []),
  ...(websocket ? [websocketMarkdown(websocket, "###"), ""] : []),
  ...(forwardProfile ? [forwardProfileMarkdown(forwardProfile), ""] : []),
];
if (errors.length) {
  lines.push(
    "## Errors",
    "",
    ...errors.map((e) => `- ${e.replaceAll("\n", " ")}`),
  );
}
const path = await writeResult(
  "latest",
  {
    startedAt,
    peers,
    missing,
    micro,
    load,
    staleness,
    originFaults,
    websocket,
    coldStart,
    startup,
    forwardProfile,
    errors,
  },
  lines.join("\n"),
);
console.log(lines.join("\n"));
console.log(`\nwritten: ${path}`);

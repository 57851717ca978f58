/** Benchmark results as files: JSON for machines, Markdown for people. Never asserted on. */

import type { WrkResult } from "./wrk.ts";

/** One row of a load comparison. */
export interface LoadRow extends WrkResult {
  name: string;
  /** Throughput relative to the suite's baseline row. */
  ratio: number | null;
  /** Server CPU (user + system) per request in µs, median round, when the suite measured it. */
  serverCpuUs?: number | null;
}

/** A comparison run side by side in one process run. */
export interface LoadSuite {
  suite: string;
  baseline: string;
  rows: LoadRow[];
  notes: string[];
  /** Peers that were not installed and therefore not measured. */
  missing: string[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Adds ratios against the baseline row. With per-round samples, the ratio is the median of the
 * ratios within each round (robust to the machine speeding up or slowing down between rounds).
 */
export function withRatios(
  suite: string,
  baseline: string,
  rows: Array<
    WrkResult & {
      name: string;
      samples?: number[];
      /** Per-round server CPU per request (as `runWrkRounds` gives it). */
      cpuUs?: number[];
      serverCpuUs?: number | null;
    }
  >,
  notes: string[] = [],
  missing: string[] = [],
): LoadSuite {
  const base = rows.find((r) => r.name === baseline);
  return {
    suite,
    baseline,
    notes,
    missing,
    rows: rows.map((r) => {
      const serverCpuUs = r.serverCpuUs !== undefined
        ? r.serverCpuUs
        : r.cpuUs === undefined
        ? undefined
        : r.cpuUs.length > 0
        ? median(r.cpuUs)
        : null;
      const row = serverCpuUs === undefined ? { ...r } : { ...r, serverCpuUs };
      if (!base || !(base.requestsPerSec > 0)) return { ...row, ratio: null };
      const a = r.samples;
      const b = base.samples;
      if (a && b && a.length === b.length && a.length > 0) {
        return { ...row, ratio: median(a.map((x, i) => x / b[i])) };
      }
      return { ...row, ratio: r.requestsPerSec / base.requestsPerSec };
    }),
  };
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

/** Renders a suite as a Markdown table. */
export function loadSuiteMarkdown(s: LoadSuite): string {
  // Suites that measured server CPU per request show it as a column.
  const cpu = s.rows.some((r) => r.serverCpuUs !== undefined);
  const lines = [
    `### ${s.suite}`,
    "",
    `| target | requests/s (median round) | p50 ms | p99 ms |${
      cpu ? " server CPU µs/req |" : ""
    } vs ${s.baseline} (median of per-round ratios) | errors |`,
    `| --- | ---: | ---: | ---: |${cpu ? " ---: |" : ""} ---: | ---: |`,
  ];
  for (const r of s.rows) {
    const us = cpu ? ` ${r.serverCpuUs == null ? "n/a" : fmt(r.serverCpuUs, 1)} |` : "";
    lines.push(
      `| ${r.name} | ${fmt(r.requestsPerSec, 0)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} |${us} ` +
        `${r.ratio === null ? "n/a" : `${(r.ratio * 100).toFixed(1)}%`} | ${r.errors + r.non2xx} |`,
    );
  }
  for (const n of s.notes) lines.push("", `- ${n}`);
  for (const m of s.missing) lines.push("", `- not measured: ${m}`);
  return lines.join("\n");
}

/** Writes `bench/results/<name>.json` and `.md`. */
export async function writeResult(name: string, json: unknown, markdown: string): Promise<string> {
  const dir = new URL("../results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(new URL(`${name}.json`, dir), JSON.stringify(json, null, 2) + "\n");
  await Deno.writeTextFile(new URL(`${name}.md`, dir), markdown + "\n");
  return new URL(`${name}.md`, dir).pathname;
}

/** Options every load suite takes. */
export interface LoadOptions {
  durationS?: number;
  connections?: number;
  rounds?: number;
}

/** Reads `--duration`, `--connections`, `--rounds` (and `--quick`) from the command line. */
export function loadOptionsFromArgs(args: readonly string[]): LoadOptions {
  const num = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const quick = args.includes("--quick");
  return {
    durationS: num("duration") ?? (quick ? 2 : undefined),
    connections: num("connections"),
    rounds: num("rounds") ?? (quick ? 1 : undefined),
  };
}

/** Runs one suite from the command line and writes `bench/results/<name>.{json,md}`. */
export async function runStandalone(
  name: string,
  run: (opts: LoadOptions) => Promise<LoadSuite>,
): Promise<void> {
  const suite = await run(loadOptionsFromArgs(Deno.args));
  const md = loadSuiteMarkdown(suite);
  const path = await writeResult(name, suite, md);
  console.log(md);
  console.log(`\nwritten: ${path}`);
}

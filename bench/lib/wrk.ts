/** Runs `wrk` and parses its report (requests/s and the latency percentiles of `--latency`). */

import { cpuTimeMs } from "./process.ts";

/** One wrk run's figures. */
export interface WrkResult {
  requestsPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  non2xx: number;
}

/** Options for {@linkcode runWrk}. */
export interface WrkOptions {
  threads?: number;
  connections?: number;
  durationS?: number;
  headers?: Record<string, string>;
  /** Lua script path (e.g. for POST bodies). */
  script?: string;
  /** Pin wrk to these CPUs with `taskset` (e.g. "0"). */
  cpus?: string;
}

/** True when `wrk` is on the PATH. */
export async function hasWrk(): Promise<boolean> {
  try {
    const out = await new Deno.Command("wrk", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.code === 0 || out.code === 1;
  } catch {
    return false;
  }
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case "us":
      return n / 1000;
    case "ms":
      return n;
    case "s":
      return n * 1000;
    case "m":
      return n * 60_000;
    default:
      return NaN;
  }
}

/** Parses wrk's text report. */
export function parseWrk(text: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(text);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  return {
    requestsPerSec: rps,
    p50Ms: pct("50"),
    p90Ms: pct("90"),
    p99Ms: pct("99"),
    requests,
    errors,
    non2xx,
  };
}

/** Runs wrk against `url` and returns its figures. */
export async function runWrk(url: string, options: WrkOptions = {}): Promise<WrkResult> {
  const args = [
    `-t${options.threads ?? 1}`,
    `-c${options.connections ?? 50}`,
    `-d${options.durationS ?? 5}s`,
    "--latency",
  ];
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (options.script) args.push("-s", options.script);
  args.push(url);
  const command = options.cpus !== undefined
    ? new Deno.Command("taskset", {
      args: ["-c", options.cpus, "wrk", ...args],
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command("wrk", { args, stdout: "piped", stderr: "piped" });
  const out = await command.output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(
      `wrk failed (${out.code}): ${new TextDecoder().decode(out.stderr).slice(0, 500)}`,
    );
  }
  return parseWrk(text);
}

/** Targets measured side by side: every target once per round, `rounds` times, median kept. */
export async function runWrkRounds(
  targets: ReadonlyArray<{ name: string; url: string; options?: WrkOptions; pid?: number }>,
  options: WrkOptions & { rounds?: number; warmupS?: number } = {},
): Promise<Array<WrkResult & { name: string; samples: number[]; cpuUs: number[] }>> {
  const rounds = options.rounds ?? 3;
  for (const t of targets) {
    await runWrk(t.url, { ...options, ...t.options, durationS: options.warmupS ?? 3 });
  }
  const results = new Map<string, WrkResult[]>();
  const cpu = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      const before = t.pid === undefined ? null : await cpuTimeMs(t.pid);
      const result = await runWrk(t.url, { ...options, ...t.options });
      const after = t.pid === undefined ? null : await cpuTimeMs(t.pid);
      results.set(t.name, [...(results.get(t.name) ?? []), result]);
      if (before !== null && after !== null && result.requests > 0) {
        cpu.set(t.name, [...(cpu.get(t.name) ?? []), (after - before) * 1000 / result.requests]);
      }
    }
  }
  return targets.map((t) => {
    const runs = results.get(t.name)!;
    const sorted = [...runs].sort((a, b) => a.requestsPerSec - b.requestsPerSec);
    const median = sorted[Math.floor(sorted.length / 2)];
    return {
      ...median,
      name: t.name,
      samples: runs.map((x) => Math.round(x.requestsPerSec)),
      cpuUs: cpu.get(t.name) ?? [],
    };
  });
}

/**
 * Server CPU (user + system) per request of one row, median over rounds, in µs; null when the
 * server's process was not given. CPU per request is steadier than requests/s when other work
 * shares the machine.
 */
export function medianCpuUs(row: { cpuUs: number[] }): number | null {
  if (row.cpuUs.length === 0) return null;
  const sorted = [...row.cpuUs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `name 12.3 µs; …` for the rows that have CPU figures. */
export function cpuLine(rows: ReadonlyArray<{ name: string; cpuUs: number[] }>): string {
  return rows.map((r) => {
    const us = medianCpuUs(r);
    return `${r.name} ${us === null ? "n/a" : `${us.toFixed(1)} µs`}`;
  }).join("; ");
}

/**
 * How `a` compares with `baseline` by CPU per request, as a throughput share: baseline's µs over
 * a's µs (100% = as cheap as the baseline), or "n/a".
 */
export function cpuShare(
  rows: ReadonlyArray<{ name: string; cpuUs: number[] }>,
  a: string,
  baseline: string,
): string {
  const x = rows.find((r) => r.name === a), y = rows.find((r) => r.name === baseline);
  const ux = x ? medianCpuUs(x) : null, uy = y ? medianCpuUs(y) : null;
  return ux && uy ? `${(uy / ux * 100).toFixed(1)}%` : "n/a";
}

/**
 * Cold start: milliseconds from spawning a process to its first complete answer, for the edge
 * (`main.ts` as `deno task start` runs it: production defaults, the demo origin on its own port,
 * every secret set) and a bare `Deno.serve` in the same run, dependencies cached; one warm-up
 * round, then the median of `--rounds` (5). The edge is asked for `/_edge/health` and, in
 * another process, for a cacheable page through the cache (a new path each round, so a miss
 * fetched from the origin). Each target keeps one KV file, made by the warm-up round, as a
 * restarted node (or one on Deno Deploy, whose database exists) does. Also the
 * process's memory (VmRSS) right after the first answer and once the node has settled (health
 * no longer warming, the IP database loaded), and what loading the IP database costs in a
 * fresh process (bench/servers/ipdb_probe.ts).
 * With `--baseline <dir>` (another checkout, e.g. the commit before a change) its edge is
 * measured too, in the same rounds, and its IP database load beside this one's.
 * Results go to bench/results/cold_start.{json,md}.
 * Run: deno run --allow-all bench/cold_start.ts [--rounds 5] [--baseline <dir>]; `deno task
 * bench` runs it too.
 */

import { freePort, onInterrupt, terminate } from "./lib/process.ts";
import { writeResult } from "./lib/report.ts";

const root = new URL("../", import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Children alive now: killed if the bench is interrupted. */
const live = new Set<Deno.ChildProcess>();
const ADMIN_TOKEN = "cold-start-bench-admin-token";
const SECRETS = {
  JWT_SECRET: "cold-start-bench-jwt-secret-0123456789abcdef",
  ADMIN_TOKEN,
  CENTRAL_TOKEN: "cold-start-bench-central-token",
};
/** The flags of `deno task start`. */
const EDGE_ARGS = [
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
  "main.ts",
];

/** What one process is started as and asked for. */
interface Target {
  name: string;
  edge: boolean;
  path: string;
  /** Request fields of the first request (none: a client that takes only identity). */
  headers?: Record<string, string>;
  /** The checkout it runs from. */
  root: URL;
}

function targets(baseline: URL | undefined): Target[] {
  const edge = (name: string, at: URL): Target[] => [
    { name: `${name} /_edge/health`, edge: true, path: "/_edge/health", root: at },
    {
      name: `${name} cacheable page (through the cache)`,
      edge: true,
      path: "/cacheable/cold-start",
      root: at,
    },
    {
      // A browser's request: forwarded with `Accept-Encoding`, so through the node:http transport.
      name: `${name} cacheable page, Accept-Encoding: gzip, br`,
      edge: true,
      path: "/cacheable/cold-start-gzip",
      headers: { "accept-encoding": "gzip, deflate, br" },
      root: at,
    },
  ];
  return [
    { name: "bare Deno.serve", edge: false, path: "/", root },
    ...edge("edge", root),
    ...(baseline ? edge("baseline edge", baseline) : []),
  ];
}

/** One process start. */
export interface ColdRun {
  target: string;
  round: number;
  /** Spawn to the end of the first answer. */
  firstAnswerMs: number;
  status: number;
  /** The `X-Cache` header of the first answer (the page), when present. */
  cache: string | null;
  /** VmRSS right after the first answer, in MiB. */
  rssMiB: number;
  /** Spawn to health no longer warming and the IP database loaded (edge only). */
  settledMs: number | null;
  rssSettledMiB: number | null;
  /** VmHWM (peak RSS) when settled, in MiB. */
  peakMiB: number | null;
}

interface Answer {
  status: number;
  head: string;
  body: string;
}

/** One HTTP/1.1 request on a fresh connection, read until the server closes it. */
async function ask(port: number, path: string, headers: Record<string, string> = {}) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}` +
      "Connection: close\r\n\r\n";
    await conn.write(new TextEncoder().encode(request));
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
    const split = text.indexOf("\r\n\r\n");
    const head = split < 0 ? text : text.slice(0, split);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    return { status, head, body: split < 0 ? "" : text.slice(split + 4) } satisfies Answer;
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the peer
    }
  }
}

/** Asks until something listens on `port`: the first complete answer. */
async function firstAnswer(
  port: number,
  path: string,
  headers: Record<string, string>,
  exited: { done: boolean },
  timeoutMs = 30_000,
): Promise<Answer> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (exited.done) throw new Error("Exited before answering");
    try {
      return await ask(port, path, headers);
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
      await sleep(1);
    }
  }
  throw new Error(`No answer on port ${port} within ${timeoutMs} ms`);
}

async function vm(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

/** True once verbose health shows neither a warming condition nor an IP database loading. */
function settled(body: string): boolean {
  try {
    const h = JSON.parse(body) as { ip_database?: string; conditions?: Record<string, string> };
    const warming = Object.keys(h.conditions ?? {}).some((name) => name.startsWith("warming"));
    return h.ip_database !== "loading" && !warming;
  } catch {
    return false;
  }
}

async function runOnce(target: Target, round: number, dir: string): Promise<ColdRun> {
  const port = freePort();
  const path = target.edge && target.path.startsWith("/cacheable/")
    ? `${target.path}-${round}`
    : target.path;
  const env: Record<string, string> = target.edge
    ? {
      ...SECRETS,
      PORT: String(port),
      ORIGIN_PORT: String(freePort()),
      KV_PATH: `${dir}/outpost.sqlite3`,
      LOG_LEVEL: "warn",
    }
    : { PORT: String(port) };
  const args = target.edge
    ? EDGE_ARGS
    : ["run", "--allow-net", "--allow-env", "bench/servers/hello.ts"];
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    cwd: target.root.pathname,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  live.add(child);
  const exited = { done: false };
  child.status.then(() => (exited.done = true));
  const stderr = new Response(child.stderr).text();
  try {
    const answer = await firstAnswer(port, path, target.headers ?? {}, exited);
    const firstAnswerMs = performance.now() - started;
    const mem = await vm(child.pid);
    let settledMs: number | null = null, rssSettledMiB: number | null = null;
    let peakMiB: number | null = null;
    if (target.edge) {
      for (const until = performance.now() + 30_000; performance.now() < until;) {
        const h = await ask(port, "/_edge/health?verbose=1", {
          authorization: `Bearer ${ADMIN_TOKEN}`,
        });
        if (settled(h.body)) {
          settledMs = performance.now() - started;
          break;
        }
        await sleep(10);
      }
      const after = await vm(child.pid);
      rssSettledMiB = after.rss;
      peakMiB = after.hwm;
    }
    return {
      target: target.name,
      round,
      firstAnswerMs,
      status: answer.status,
      cache: /^x-cache: *(.*)$/im.exec(answer.head)?.[1]?.trim() ?? null,
      rssMiB: mem.rss,
      settledMs,
      rssSettledMiB,
      peakMiB,
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${target.name}: ${(error as Error).message}: ${(await stderr).slice(-400)}`);
  } finally {
    await terminate(child);
    live.delete(child);
    await stderr;
  }
}

/** What loading the IP database costs in a fresh process (bench/servers/ipdb_probe.ts). */
export interface IpdbLoad {
  format: string;
  loadMs: number;
  /** The longest the event loop was blocked while it loaded. */
  maxStallMs: number;
  heapUsedMiB: number;
  externalMiB: number;
  rssMiB: number;
  size: number;
}

/** Loads `at`'s IP database (its `lib/features/geo/ipdb.ts`, with its deno.json) in a fresh process. */
async function probeIpdb(at: URL): Promise<IpdbLoad> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      "--config",
      new URL("deno.json", at).pathname,
      new URL("bench/servers/ipdb_probe.ts", root).pathname,
      at.href,
    ],
    cwd: at.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr).slice(-400));
  return JSON.parse(text) as IpdbLoad;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Medians per target. */
export interface ColdSummary {
  target: string;
  firstAnswerMs: number;
  minMs: number;
  maxMs: number;
  /** Median of the per-round ratios to the bare server's first answer. */
  vsBare: number | null;
  rssMiB: number;
  settledMs: number | null;
  rssSettledMiB: number | null;
  peakMiB: number | null;
  statuses: string;
}

/** Everything one run measured. */
export interface ColdStartResult {
  rounds: number;
  runs: ColdRun[];
  summary: ColdSummary[];
  /** IP database loads, this checkout's and the baseline's, with their medians. */
  ipdb: Array<{ root: string; runs: IpdbLoad[]; median: IpdbLoad }>;
}

/** Runs every target `rounds` times (after a warm-up round), interleaved. */
export async function measureColdStart(
  rounds = 5,
  ipdbRuns = 3,
  baseline?: URL,
): Promise<ColdStartResult> {
  const TARGETS = targets(baseline);
  onInterrupt(() => {
    for (const child of live) {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
    }
  });
  // Dependencies cached, as the figure is defined.
  for (const at of baseline ? [root, baseline] : [root]) {
    await new Deno.Command(Deno.execPath(), {
      args: ["cache", "main.ts", new URL("bench/servers/hello.ts", root).pathname],
      cwd: at.pathname,
      stdout: "null",
      stderr: "null",
    }).output();
  }
  const runs: ColdRun[] = [];
  const dirs = await Promise.all(TARGETS.map(() => Deno.makeTempDir({ prefix: "outpost-cold-" })));
  try {
    for (let round = 0; round <= rounds; round++) {
      for (const [i, target] of TARGETS.entries()) {
        const run = await runOnce(target, round, dirs[i]);
        if (round > 0) runs.push(run);
      }
    }
  } finally {
    for (const dir of dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const bare = runs.filter((r) => r.target === TARGETS[0].name);
  const summary = TARGETS.map((t): ColdSummary => {
    const mine = runs.filter((r) => r.target === t.name);
    const times = mine.map((r) => r.firstAnswerMs);
    const ratios = mine.map((r) => {
      const b = bare.find((x) => x.round === r.round);
      return b ? r.firstAnswerMs / b.firstAnswerMs : NaN;
    }).filter(Number.isFinite);
    const of = (pick: (r: ColdRun) => number | null) => {
      const values = mine.map(pick).filter((v): v is number => v !== null);
      return values.length ? median(values) : null;
    };
    const statuses = [...new Set(mine.map((r) => `${r.status}${r.cache ? ` ${r.cache}` : ""}`))];
    return {
      target: t.name,
      firstAnswerMs: median(times),
      minMs: Math.min(...times),
      maxMs: Math.max(...times),
      vsBare: ratios.length ? median(ratios) : null,
      rssMiB: median(mine.map((r) => r.rssMiB)),
      settledMs: of((r) => r.settledMs),
      rssSettledMiB: of((r) => r.rssSettledMiB),
      peakMiB: of((r) => r.peakMiB),
      statuses: statuses.join(", "),
    };
  });
  const ipdb: ColdStartResult["ipdb"] = [];
  for (const at of baseline ? [root, baseline] : [root]) {
    const loads: IpdbLoad[] = [];
    for (let i = 0; i < ipdbRuns; i++) loads.push(await probeIpdb(at));
    if (loads.length === 0) continue;
    const m = (pick: (r: IpdbLoad) => number) => median(loads.map(pick));
    ipdb.push({
      root: at.pathname,
      runs: loads,
      median: {
        format: loads[0].format,
        loadMs: m((r) => r.loadMs),
        maxStallMs: m((r) => r.maxStallMs),
        heapUsedMiB: m((r) => r.heapUsedMiB),
        externalMiB: m((r) => r.externalMiB),
        rssMiB: m((r) => r.rssMiB),
        size: loads[0].size,
      },
    });
  }
  return { rounds, runs, summary, ipdb };
}

const f = (n: number | null, digits = 0) => n === null ? "n/a" : n.toFixed(digits);

/** The result as Markdown. */
export function coldStartMarkdown(r: ColdStartResult, heading = "#"): string {
  const lines = [
    `${heading} Cold start`,
    "",
    `Spawn to the first complete answer, median of ${r.rounds} rounds after a warm-up round ` +
    "(dependencies cached; the KV file made by the warm-up round; the page is a new path each " +
    "round, a miss fetched from the demo origin). Memory is the process's VmRSS. Target: " +
    "first answer ≤ 300 ms and ≤ 2× bare `Deno.serve`.",
    "",
    "| target | first answer ms (median) | min | max | vs bare (median of per-round ratios) | RSS after first answer MiB | settled ms | RSS settled MiB | peak RSS MiB | answers |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const s of r.summary) {
    lines.push(
      `| ${s.target} | ${f(s.firstAnswerMs)} | ${f(s.minMs)} | ${f(s.maxMs)} | ` +
        `${s.vsBare === null ? "n/a" : `${s.vsBare.toFixed(2)}×`} | ${f(s.rssMiB, 1)} | ` +
        `${f(s.settledMs)} | ${f(s.rssSettledMiB, 1)} | ${f(s.peakMiB, 1)} | ${s.statuses} |`,
    );
  }
  lines.push("");
  for (const s of r.summary.filter((x) => x.target.startsWith("edge "))) {
    const met = s.firstAnswerMs <= 300 && s.vsBare !== null && s.vsBare <= 2;
    lines.push(
      `- ${s.target}: ${f(s.firstAnswerMs)} ms, ${s.vsBare?.toFixed(2) ?? "n/a"}× bare: ` +
        `${met ? "MET" : "NOT MET"}`,
    );
  }
  for (const { root: at, runs, median: m } of r.ipdb) {
    lines.push(
      "",
      `IP database load in a fresh process (${m.format}, ${at}, median of ${runs.length}): ` +
        `${f(m.loadMs)} ms, longest event-loop stall ${f(m.maxStallMs)} ms, heap used ` +
        `${f(m.heapUsedMiB, 1)} MiB, external ${f(m.externalMiB, 1)} MiB, RSS ` +
        `${f(m.rssMiB, 1)} MiB after (size ${m.size}).`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--rounds");
  const rounds = i >= 0 ? Number(Deno.args[i + 1]) : 5;
  const b = Deno.args.indexOf("--baseline");
  const baseline = b >= 0 ? new URL(`file://${Deno.realPathSync(Deno.args[b + 1])}/`) : undefined;
  const result = await measureColdStart(rounds, 3, baseline);
  const md = coldStartMarkdown(result);
  const path = await writeResult("cold_start", result, md);
  console.log(md);
  console.log(`\nwritten: ${path}`);
}

/**
 * What a forward through the edge costs next to one `fetch`, side by side in one run: the origin
 * alone (bare `Deno.serve`), the minimal Deno proxy (`Deno.serve((req) => fetch(origin + path,
 * req))`, the baseline), that proxy plus the header fields an Outpost forward carries, nginx
 * `proxy_pass` with upstream keep-alive, and Outpost's forwards: an uncacheable GET (hit-for-pass)
 * for a plain client and a browser, through an origin that compresses, a new uncacheable URL per
 * request, `/api/*` with authorization on, and a cacheable miss that stores (with the KV commits
 * it makes); then nginx `proxy_cache` hits and Outpost's memory-tier hits of one object.
 * Usage: deno run -A bench/load/forwarding.ts [--duration 5] [--connections 50] [--rounds 3]
 */

import { findNginx, type NginxServer, startNginx } from "../lib/nginx.ts";
import {
  cpuTimeMs,
  edgeSettled,
  freePort,
  hasTaskset,
  type Server,
  startDeno,
} from "../lib/process.ts";
import { type LoadOptions, type LoadSuite, runStandalone, withRatios } from "../lib/report.ts";
import { hasWrk, runWrk, type WrkResult } from "../lib/wrk.ts";
import { mintToken } from "../../tools/token.ts";

const BASELINE = "minimal Deno proxy";
const NOSTORE = "/nostore/bench";
const OBJECT = "/cacheable/bench";
const BROWSER = { "accept-encoding": "gzip, deflate, br, zstd" };
const SECRET = "load-bench-secret-for-outpost-forwarding-0123456789";
/** Rate classes large enough that the benchmark measures authorization, not 429s. */
const BIG = { limit: 1_000_000, windowS: 1 };

interface Target {
  name: string;
  url: string;
  pid?: number;
  headers?: Record<string, string>;
  script?: string;
  /** An edge whose background KV writes are awaited after each run, and whose commits count. */
  edge?: string;
}

interface Measured {
  row: WrkResult & { name: string; samples: number[]; serverCpuUs: number | null };
  /** KV commits per request by kind (edges with `edge` set). */
  commits: Record<string, number> | null;
}

/** Runs the suite and returns it. */
export async function run(opts: LoadOptions = {}): Promise<LoadSuite> {
  const title = "Forwarding: Outpost's forwards and hits vs the minimal Deno proxy and nginx";
  if (!(await hasWrk())) return withRatios(title, BASELINE, [], [], ["wrk"]);
  const pin = await hasTaskset();
  const cpus = pin ? "1" : undefined;
  const root = new URL("../../", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "outpost-forwarding-" });
  const started: Server[] = [];
  const nginx: NginxServer[] = [];
  const missing: string[] = [];
  const serve = async (script: string, env: Record<string, string>, ready: string) => {
    const port = freePort();
    const server = await startDeno(["run", "-A", script], {
      cwd: root,
      env: { ...env, PORT: String(port) },
      readyUrl: `http://127.0.0.1:${port}${ready}`,
      cpus,
    });
    started.push(server);
    return server;
  };
  try {
    const origin = await serve("bench/servers/origin.ts", {}, NOSTORE);
    const minimal = await serve("bench/servers/min_proxy.ts", { ORIGIN_URL: origin.url }, NOSTORE);
    const fields = await serve(
      "bench/servers/min_proxy_fields.ts",
      { ORIGIN_URL: origin.url },
      NOSTORE,
    );
    const edgeEnv = {
      DEMO_ORIGIN: "off",
      ORIGIN_URL: origin.url,
      KV_PATH: ":memory:",
      LOG_LEVEL: "error",
      OUTPOST_MODE: "development",
      JWT_SECRET: SECRET,
    };
    const edge = async (config: unknown) => {
      const file = `${dir}/${crypto.randomUUID()}.json`;
      await Deno.writeTextFile(file, JSON.stringify(config));
      const port = freePort();
      const server = await startDeno(["run", "-A", "main.ts"], {
        cwd: root,
        env: { ...edgeEnv, OUTPOST_CONFIG: file, PORT: String(port) },
        readyUrl: `http://127.0.0.1:${port}/_edge/health?verbose=1`,
        ready: edgeSettled,
        cpus,
      });
      started.push(server);
      return server;
    };
    const rate = (localAllowance?: number) => ({
      authz: {
        rateLimit: {
          ...(localAllowance ? { localAllowance } : {}),
          classes: { standard: BIG, premium: BIG, anonymous: BIG },
        },
      },
    });
    // The default config (its A/B experiment on /api/*, authorization on /api/*), with rate
    // classes that do not limit; one edge for forwards and hits, one for /api/* with the default
    // local allowance, one for new uncacheable URLs and one for cacheable misses (each kept apart
    // from the others' memory tier and KV: stored misses fill both).
    const main = await edge(rate(1000));
    const apiDefault = await edge(rate());
    const fresh = await edge(rate(1000));
    const misses = await edge(rate(1000));
    const binary = await findNginx();
    if (binary === null) missing.push("nginx (Debian nginx-light not installed)");
    else {
      for (
        const [template, ready] of [["proxy_pass.conf", NOSTORE], ["proxy_cache.conf", OBJECT]]
      ) {
        nginx.push(
          await startNginx({
            binary,
            template,
            port: freePort(),
            origin: `127.0.0.1:${new URL(origin.url).port}`,
            readyPath: ready,
            cpus,
          }),
        );
      }
    }
    const token = await mintToken({ sub: "bench-user", roles: ["viewer"], ttlS: 86400 }, SECRET);
    const authorized = { authorization: `Bearer ${token}` };
    for (const url of [`${main.url}${NOSTORE}`, `${main.url}${OBJECT}`]) {
      for (let i = 0; i < 3; i++) await (await fetch(url)).body?.cancel();
    }
    if (nginx[1]) {
      for (let i = 0; i < 3; i++) await (await fetch(`${nginx[1].url}${OBJECT}`)).body?.cancel();
    }
    for (const e of [main, apiDefault]) {
      const check = await fetch(`${e.url}/api/bench`, { headers: authorized });
      await check.body?.cancel();
      if (check.status !== 200) throw new Error(`protected /api/bench answered ${check.status}`);
    }

    const lua = (name: string) => new URL(`../lua/${name}`, import.meta.url).pathname;
    const targets: Target[] = [
      { name: "origin alone (bare Deno.serve)", url: `${origin.url}${NOSTORE}`, pid: origin.pid },
      { name: BASELINE, url: `${minimal.url}${NOSTORE}`, pid: minimal.pid },
      {
        name: "minimal proxy + Outpost's header fields",
        url: `${fields.url}${NOSTORE}`,
        pid: fields.pid,
      },
      ...(nginx[0]
        ? [{
          name: "nginx proxy_pass (keep-alive)",
          url: `${nginx[0].url}${NOSTORE}`,
          pid: nginx[0].pid,
        }]
        : []),
      { name: "Outpost uncacheable GET", url: `${main.url}${NOSTORE}`, pid: main.pid },
      {
        name: "Outpost uncacheable GET, browser",
        url: `${main.url}${NOSTORE}`,
        pid: main.pid,
        headers: BROWSER,
      },
      {
        name: "Outpost uncacheable GET, browser, gzip origin (node:http)",
        url: `${main.url}/gzip/bench`,
        pid: main.pid,
        headers: BROWSER,
      },
      {
        name: "Outpost uncacheable GET, new URL each request",
        url: `${fresh.url}/`,
        pid: fresh.pid,
        script: lua("unique_nostore.lua"),
        edge: fresh.url,
      },
      {
        name: "Outpost /api/* authorized",
        url: `${main.url}/api/bench`,
        pid: main.pid,
        headers: authorized,
      },
      {
        name: "Outpost /api/* authorized, localAllowance 10 (default)",
        url: `${apiDefault.url}/api/bench`,
        pid: apiDefault.pid,
        headers: authorized,
      },
      {
        name: "Outpost cacheable miss (new URL each request, stored)",
        url: `${misses.url}/`,
        pid: misses.pid,
        script: lua("unique_paths.lua"),
        edge: misses.url,
      },
      ...(nginx[1]
        ? [{ name: "nginx proxy_cache hit", url: `${nginx[1].url}${OBJECT}`, pid: nginx[1].pid }]
        : []),
      { name: "Outpost memory-tier hit", url: `${main.url}${OBJECT}`, pid: main.pid },
    ];
    const durationS = opts.durationS ?? 5;
    const connections = opts.connections ?? 50;
    const rounds = opts.rounds ?? 3;
    const measured = await measure(targets, {
      durationS,
      connections,
      rounds,
      cpus: pin ? "0" : undefined,
    });
    const rows = measured.map((m) => m.row);
    const find = (name: string) => measured.find((m) => m.row.name === name) ?? null;
    const ratio = (a: string, b: string) => {
      const x = find(a)?.row, y = find(b)?.row;
      return x && y ? median(x.samples.map((v, i) => v / y.samples[i])) : null;
    };
    const cpuRatio = (a: string, b: string) => {
      const x = find(a)?.row.serverCpuUs, y = find(b)?.row.serverCpuUs;
      return x && y ? y / x : null;
    };
    const pct = (v: number | null) => (v === null ? "n/a" : `${(v * 100).toFixed(1)}%`);
    const versus = (a: string, b: string, target: string) =>
      `${a} vs ${b}: ${pct(ratio(a, b))} by requests/s, ${pct(cpuRatio(a, b))} by CPU per ` +
      `request (target ${target}).`;
    const commitsOf = (name: string) => {
      const c = find(name)?.commits;
      if (!c) return "n/a";
      const total = Object.entries(c).filter(([k]) => !k.includes(":"))
        .reduce((a, [, b]) => a + b, 0);
      const parts = Object.entries(c).filter(([, v]) => v > 0.0005)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`);
      return `${total.toFixed(3)} per request${parts.length ? ` (${parts.join(", ")})` : ""}`;
    };
    const MISS = "Outpost cacheable miss (new URL each request, stored)";
    const FRESH = "Outpost uncacheable GET, new URL each request";
    return withRatios(title, BASELINE, rows, [
      `wrk -t1 -c${connections} -d${durationS}s, median of ${rounds} alternating rounds ` +
      `(samples: ${rows.map((r) => `${r.name} ${r.samples.join("/")}`).join("; ")}).`,
      pin
        ? "Servers (and the origin) pinned to CPU 1, wrk to CPU 0 (taskset): the origin's work " +
          "shares the proxies' core, as it does in every row."
        : "taskset missing: servers and wrk share the cores.",
      `Origin: bare Deno.serve (bench/servers/origin.ts), ~80 bytes of JSON, \`no-store\` except ` +
      `${OBJECT} (public, an hour); the gzip row's path answers 1 KiB of JSON gzipped to requests ` +
      "that accept it. Outpost runs the default config (its A/B experiment and authorization on " +
      "/api/*) with rate classes that do not limit and, except in the row that says otherwise, " +
      '`authz.rateLimit.localAllowance` 1000 (so the local allowance answers: "allowance ' +
      'available"); wrk sends no Accept-Encoding unless the row says browser.',
      `Server CPU per request (user+system of the server process, median round): ${
        rows.map((r) =>
          `${r.name} ${r.serverCpuUs === null ? "n/a" : `${r.serverCpuUs.toFixed(1)} µs`}`
        )
          .join("; ")
      }.`,
      versus("Outpost uncacheable GET", BASELINE, "≥ 85%"),
      versus("Outpost uncacheable GET, browser", BASELINE, "≥ 85%"),
      versus("Outpost /api/* authorized", BASELINE, "≥ 75%"),
      versus("Outpost memory-tier hit", "nginx proxy_cache hit", "≥ 100%"),
      versus("minimal proxy + Outpost's header fields", BASELINE, "none: the fields' own cost"),
      `KV commits: ${MISS} ${commitsOf(MISS)}; ${FRESH} ${commitsOf(FRESH)} ` +
      "(outpost_cache_kv_commits_total, read before and after each run once the edge's " +
      "background writes had finished; errors:<op> and skipped:<reason> are KV operations that " +
      "failed or timed out and fills kept out of KV, per request).",
    ], missing);
  } finally {
    for (const n of nginx) await n.stop();
    for (const s of started.reverse()) await s.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Alternating rounds like `runWrkRounds`, with each server's CPU time and KV commits per run. */
async function measure(
  targets: Target[],
  o: { durationS: number; connections: number; rounds: number; cpus?: string },
): Promise<Measured[]> {
  const base = { connections: o.connections, threads: 1, cpus: o.cpus };
  for (const t of targets) {
    await runWrk(t.url, { ...base, durationS: 2, script: t.script, headers: t.headers });
    if (t.edge) await settle(t.edge);
  }
  const runs = new Map<string, Array<{ result: WrkResult; cpu: number | null }>>();
  const commits = new Map<string, Record<string, number>>();
  const requests = new Map<string, number>();
  for (let r = 0; r < o.rounds; r++) {
    for (const t of targets) {
      const kvBefore = t.edge ? await kvCommits(t.edge) : null;
      const before = t.pid ? await cpuTimeMs(t.pid) : null;
      const result = await runWrk(t.url, {
        ...base,
        durationS: o.durationS,
        script: t.script,
        headers: t.headers,
      });
      const after = t.pid ? await cpuTimeMs(t.pid) : null;
      const cpu = before !== null && after !== null && result.requests > 0
        ? (after - before) * 1000 / result.requests
        : null;
      runs.set(t.name, [...(runs.get(t.name) ?? []), { result, cpu }]);
      if (t.edge && kvBefore) {
        await settle(t.edge);
        const kvAfter = await kvCommits(t.edge);
        const sum = commits.get(t.name) ?? {};
        for (const [kind, n] of Object.entries(kvAfter)) {
          sum[kind] = (sum[kind] ?? 0) + n - (kvBefore[kind] ?? 0);
        }
        commits.set(t.name, sum);
        requests.set(t.name, (requests.get(t.name) ?? 0) + result.requests);
      }
    }
  }
  return targets.map((t) => {
    const list = runs.get(t.name)!;
    const sorted = [...list].sort((a, b) => a.result.requestsPerSec - b.result.requestsPerSec);
    const mid = sorted[Math.floor(sorted.length / 2)].result;
    const cpus = list.map((x) => x.cpu).filter((x): x is number => x !== null);
    const c = commits.get(t.name);
    const n = requests.get(t.name) ?? 0;
    return {
      row: {
        ...mid,
        name: t.name,
        samples: list.map((x) => Math.round(x.result.requestsPerSec)),
        serverCpuUs: cpus.length > 0 ? median(cpus) : null,
      },
      commits: c && n > 0
        ? Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v / n]))
        : null,
    };
  });
}

/**
 * `outpost_cache_kv_commits_total` by kind, plus KV operations that failed (`errors:<op>`) and
 * fills kept out of KV (`skipped:<reason>`), from the edge's metrics (open in development).
 */
async function kvCommits(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/_edge/metrics`)).text();
  const out: Record<string, number> = {};
  const series = [
    ["outpost_cache_kv_commits_total", "kind", ""],
    ["outpost_cache_kv_errors_total", "op", "errors:"],
    ["outpost_cache_kv_writes_skipped_total", "reason", "skipped:"],
  ] as const;
  for (const line of text.split("\n")) {
    for (const [name, label, prefix] of series) {
      if (!line.startsWith(`${name}{`)) continue;
      const value = new RegExp(`${label}="([^"]+)"`).exec(line)?.[1] ?? "?";
      const key = prefix + value;
      out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return out;
}

/** Waits until an edge has no fills or background writes left (at most 30 s). */
async function settle(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const f = await fetch(`${url}/_edge/cache`).then((r) => r.json());
    if (f.inFlight === 0 && f.background === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

if (import.meta.main) await runStandalone("forwarding", run);

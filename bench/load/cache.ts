/**
 * The SWR edge cache under load, side by side in one run: bare `Deno.serve` hello world, nginx
 * `proxy_cache` hits (Debian nginx-light, one worker, bench/nginx/proxy_cache.conf), Outpost's
 * memory-tier hit through the full chain, its KV-tier hit (memory tier off) and its miss path
 * (every request a new key: fill, store, evict), all for the same small demo-origin object.
 * Afterwards the memory tier's bytes are read back from `GET /_edge/cache`: never above budget.
 * Usage: deno run -A bench/load/cache.ts [--duration 5] [--connections 50] [--rounds 3]
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

/** The object every hit row asks for (cacheable for an hour). */
const OBJECT = "/cacheable/bench?max_age=3600";
/** The miss edge's budget: small, so the miss run fills it and evicts. */
const MEMORY_BUDGET = 8 * 1024 * 1024;

interface CacheFigures {
  memory: { bytes: number; items: number; budgetBytes: number };
  rssBytes: number;
}

async function figures(url: string): Promise<CacheFigures> {
  const res = await fetch(`${url}/_edge/cache`);
  return await res.json();
}

async function prime(url: string, times = 3): Promise<void> {
  for (let i = 0; i < times; i++) {
    const res = await fetch(url);
    await res.body?.cancel();
    await new Promise((r) => setTimeout(r, 100)); // let KV writes land between requests
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

/** Runs the suite and returns it. */
export async function run(opts: LoadOptions = {}): Promise<LoadSuite> {
  const title =
    "SWR edge cache: memory hit, KV hit and miss vs nginx proxy_cache and bare Deno.serve";
  if (!(await hasWrk())) return withRatios(title, "bare Deno.serve", [], [], ["wrk"]);
  const pin = await hasTaskset();
  const cpus = pin ? "1" : undefined;
  const root = new URL("../../", import.meta.url).pathname;
  const ports = {
    hello: freePort(),
    origin: freePort(),
    nginx: freePort(),
    memory: freePort(),
    kv: freePort(),
    miss: freePort(),
    replay: freePort(),
  };
  const edgeEnv = (port: number, memoryBytes: number) => ({
    PORT: String(port),
    DEMO_ORIGIN: "off",
    ORIGIN_URL: `http://127.0.0.1:${ports.origin}`,
    KV_PATH: ":memory:",
    LOG_LEVEL: "error",
    OUTPOST_MODE: "development",
    CACHE_MEMORY_BYTES: String(memoryBytes),
  });
  const started: Server[] = [];
  let nginx: NginxServer | null = null;
  const missing: string[] = [];
  try {
    started.push(
      await startDeno(["run", "-A", "bench/servers/hello.ts"], {
        cwd: root,
        env: { PORT: String(ports.hello) },
        readyUrl: `http://127.0.0.1:${ports.hello}/`,
        cpus,
      }),
    );
    started.push(
      await startDeno(["run", "-A", "tools/demo_origin.ts", "--port", String(ports.origin)], {
        cwd: root,
        readyUrl: `http://127.0.0.1:${ports.origin}/__origin/stats`,
        cpus,
      }),
    );
    // Three edges: hits from memory, hits from KV (memory off), and the miss run with a small
    // budget (so it fills and evicts) kept apart from the hit edge's heap.
    const edges = [[ports.memory, 64 * 1024 * 1024], [ports.kv, 0], [ports.miss, MEMORY_BUDGET]];
    for (const [port, memory] of edges) {
      started.push(
        await startDeno(["run", "-A", "main.ts"], {
          cwd: root,
          env: edgeEnv(port, memory),
          readyUrl: `http://127.0.0.1:${port}/_edge/health?verbose=1`,
          ready: edgeSettled,
          cpus,
        }),
      );
    }
    const binary = await findNginx();
    if (binary === null) missing.push("nginx (Debian nginx-light not installed)");
    else {
      nginx = await startNginx({
        binary,
        template: "proxy_cache.conf",
        port: ports.nginx,
        origin: `127.0.0.1:${ports.origin}`,
        readyPath: OBJECT,
        cpus,
      });
    }
    const memoryUrl = `http://127.0.0.1:${ports.memory}`;
    const kvUrl = `http://127.0.0.1:${ports.kv}`;
    const missUrl = `http://127.0.0.1:${ports.miss}`;
    await prime(`${memoryUrl}${OBJECT}`);
    await prime(`${kvUrl}${OBJECT}`);
    if (nginx) await prime(`${nginx.url}${OBJECT}`);
    // The floor for the hit's own bytes: bare Deno.serve sending a recorded hit (its 11 fields).
    started.push(
      await startDeno(["run", "-A", "bench/servers/replay.ts"], {
        cwd: root,
        env: { PORT: String(ports.replay), REPLAY_URL: `${memoryUrl}${OBJECT}` },
        readyUrl: `http://127.0.0.1:${ports.replay}/`,
        cpus,
      }),
    );

    const durationS = opts.durationS ?? 5;
    const connections = opts.connections ?? 50;
    const rounds = opts.rounds ?? 3;
    const [hello, , memoryEdge, kvEdge, missEdge, replay] = started;
    const targets: Target[] = [
      { name: "bare Deno.serve", url: `${hello.url}/`, pid: hello.pid },
      ...(nginx
        ? [{ name: "nginx proxy_cache hit", url: `${nginx.url}${OBJECT}`, pid: nginx.pid }]
        : []),
      {
        name: "Outpost /_edge/health (reference)",
        url: `${memoryUrl}/_edge/health`,
        pid: memoryEdge.pid,
      },
      {
        name: "bare Deno.serve replaying the hit's bytes",
        url: `${replay.url}/`,
        pid: replay.pid,
      },
      { name: "Outpost memory-tier hit", url: `${memoryUrl}${OBJECT}`, pid: memoryEdge.pid },
      { name: "Outpost KV-tier hit (memory off)", url: `${kvUrl}${OBJECT}`, pid: kvEdge.pid },
      {
        name: "Outpost miss (new key each request)",
        url: `${missUrl}/`,
        pid: missEdge.pid,
        script: new URL("../lua/unique_paths.lua", import.meta.url).pathname,
        settle: missUrl,
      },
    ];
    const measured = await measure(targets, {
      durationS,
      connections,
      rounds,
      cpus: pin ? "0" : undefined,
    });
    const rows = measured.map((m) => m.row);
    const after = await figures(missUrl);
    const ratio = (a: string, b: string) => {
      const x = rows.find((r) => r.name === a);
      const y = rows.find((r) => r.name === b);
      return x && y ? median(x.samples.map((v, i) => v / y.samples[i])) : null;
    };
    const cpu = (name: string) =>
      measured.find((m) => m.row.name === name)?.cpuUsPerRequest ?? null;
    const cpuRatio = (a: string, b: string) => {
      const x = cpu(a);
      const y = cpu(b);
      return x && y ? y / x : null;
    };
    const pct = (v: number | null) => (v === null ? "n/a" : `${(v * 100).toFixed(1)}%`);
    const hit = "Outpost memory-tier hit";
    const REPLAY = "bare Deno.serve replaying the hit's bytes";
    return withRatios(title, "bare Deno.serve", rows, [
      `wrk -t1 -c${connections} -d${durationS}s, median of ${rounds} alternating rounds ` +
      `(samples: ${rows.map((r) => `${r.name} ${r.samples.join("/")}`).join("; ")}).`,
      pin
        ? "Servers (and the demo origin) pinned to CPU 1, wrk to CPU 0 (taskset)."
        : "taskset missing: servers and wrk share the cores.",
      `Object: GET ${OBJECT} from the demo origin (68 bytes of JSON); every target serves the same bytes.`,
      `Server CPU per request (user+system of the server process, median round): ${
        measured.map((m) =>
          `${m.row.name} ${
            m.cpuUsPerRequest === null ? "n/a" : `${m.cpuUsPerRequest.toFixed(1)} µs`
          }`
        ).join("; ")
      }. CPU cost is steadier than requests/s when other work shares the machine.`,
      `Outpost memory hit vs nginx proxy_cache hit: ${
        pct(ratio(hit, "nginx proxy_cache hit"))
      } by ` +
      `requests/s, ${
        pct(cpuRatio(hit, "nginx proxy_cache hit"))
      } by CPU per request (target ≥ 100%).`,
      `Outpost memory hit vs bare Deno.serve: ${
        pct(ratio(hit, "bare Deno.serve"))
      } by requests/s, ` +
      `${pct(cpuRatio(hit, "bare Deno.serve"))} by CPU per request (target ≥ 60%). Bare ` +
      `Deno.serve sending the hit's own status, fields and body (recorded once, no work behind ` +
      `them) reaches ${pct(ratio(REPLAY, "bare Deno.serve"))} of hello world by requests/s ` +
      `(${pct(cpuRatio(REPLAY, "bare Deno.serve"))} by CPU): the hit runs at ` +
      `${pct(ratio(hit, REPLAY))} of that floor (${pct(cpuRatio(hit, REPLAY))} by CPU).`,
      `Memory tier after the miss run: ${
        mib(after.memory.bytes)
      } in ${after.memory.items} items, ` +
      `budget ${mib(after.memory.budgetBytes)} (${
        after.memory.bytes <= after.memory.budgetBytes ? "within" : "OVER"
      } budget); edge RSS ${mib(after.rssBytes)}.`,
    ], missing);
  } finally {
    await nginx?.stop();
    for (const s of started.reverse()) await s.stop();
  }
}

interface Target {
  name: string;
  url: string;
  pid?: number;
  script?: string;
  /** An edge to wait for (its background KV writes) before the next run. */
  settle?: string;
}

interface Measured {
  row: WrkResult & { name: string; samples: number[] };
  cpuUsPerRequest: number | null;
}

/** Alternating rounds like `runWrkRounds`, also reading each server's CPU time per run. */
async function measure(
  targets: Target[],
  o: { durationS: number; connections: number; rounds: number; cpus?: string },
): Promise<Measured[]> {
  const base = { connections: o.connections, threads: 1, cpus: o.cpus };
  for (const t of targets) {
    await runWrk(t.url, { ...base, durationS: 2, script: t.script });
    if (t.settle) await settle(t.settle);
  }
  const runs = new Map<string, Array<{ result: WrkResult; cpu: number | null }>>();
  for (let r = 0; r < o.rounds; r++) {
    for (const t of targets) {
      const before = t.pid ? await cpuTimeMs(t.pid) : null;
      const result = await runWrk(t.url, { ...base, durationS: o.durationS, script: t.script });
      const after = t.pid ? await cpuTimeMs(t.pid) : null;
      const cpu = before !== null && after !== null && result.requests > 0
        ? (after - before) * 1000 / result.requests
        : null;
      runs.set(t.name, [...(runs.get(t.name) ?? []), { result, cpu }]);
      if (t.settle) await settle(t.settle);
    }
  }
  return targets.map((t) => {
    const list = runs.get(t.name)!;
    const sorted = [...list].sort((a, b) => a.result.requestsPerSec - b.result.requestsPerSec);
    const mid = sorted[Math.floor(sorted.length / 2)].result;
    const cpus = list.map((x) => x.cpu).filter((x): x is number => x !== null);
    return {
      row: { ...mid, name: t.name, samples: list.map((x) => Math.round(x.result.requestsPerSec)) },
      cpuUsPerRequest: cpus.length > 0 ? median(cpus) : null,
    };
  });
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

if (import.meta.main) await runStandalone("cache", run);

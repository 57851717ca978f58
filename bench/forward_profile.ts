/**
 * Where a forwarded request's CPU goes: the minimal Deno proxy and Outpost (an uncacheable GET,
 * and `/api/*` with authorization on) each run under `wrk` with V8's sampling profiler
 * (`--cpu-prof`), one process per target, and the samples taken while wrk ran are attributed to
 * the part of the stack they were in: the `fetch` to the origin, `Deno.serve`'s HTTP server,
 * Outpost's own code (with the built-ins it calls), garbage collection, and the rest. Figures are
 * CPU µs per request, side by side, so the gap to the minimal proxy is read off by part; the
 * heaviest of Outpost's own frames follow. A profile to read next to bench/load/forwarding.ts,
 * not a benchmark of its own (the profiler itself costs a little in every column).
 * Usage: deno run -A bench/forward_profile.ts [--duration 8] [--json]
 */

import { freePort, hasTaskset, type Server, startDeno } from "./lib/process.ts";
import { hasWrk, runWrk } from "./lib/wrk.ts";
import { mintToken } from "../tools/token.ts";

/** The parts of a V8 CPU profile this reads (`--cpu-prof` output). */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The parts of the stack a sample is attributed to, in the order they are looked for. */
export const PARTS = [
  "fetch to the origin",
  "Outpost's own code",
  "the proxy's handler",
  "Deno.serve (HTTP server)",
  "garbage collection",
  "V8 and runtime (program)",
  "other (streams, promise jobs, timers)",
] as const;
export type Part = typeof PARTS[number];

/** CPU time of the samples in a window, by part and by Outpost's deepest own frame (µs). */
export interface Attribution {
  byPart: Record<Part, number>;
  byFrame: Map<string, number>;
  /** Time the process was idle in the window (µs). */
  idleUs: number;
}

/**
 * Attributes the samples taken between `fromUs` and `toUs` (from the profile's start) to parts.
 * `ownRoot` is the URL prefix of the product's modules (`file:///…/repo/`); modules under
 * `bench/` there are the benchmark's own servers, not the product.
 */
export function attribute(
  profile: CpuProfile,
  window: { fromUs: number; toUs: number },
  ownRoot: string,
): Attribution {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byPart = Object.fromEntries(PARTS.map((p) => [p, 0])) as Record<Part, number>;
  const byFrame = new Map<string, number>();
  let idleUs = 0;
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (t < window.fromUs || t > window.toUs) continue;
    const stack: CpuProfile["nodes"][number]["callFrame"][] = [];
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (node === undefined) break;
      stack.push(node.callFrame);
    }
    const leaf = stack[0]?.functionName ?? "";
    if (leaf === "(idle)") {
      idleUs += us;
      continue;
    }
    const own = stack.find((f) => isOwn(f.url, ownRoot));
    let part: Part;
    if (leaf === "(garbage collector)") part = "garbage collection";
    else if (leaf === "(program)") part = "V8 and runtime (program)";
    else if (stack.some((f) => f.url.endsWith("/26_fetch.js") || f.url.endsWith("/raw_fetch.ts"))) {
      part = "fetch to the origin";
    } else if (own !== undefined) part = "Outpost's own code";
    else if (stack.some((f) => f.url.startsWith(`${ownRoot}bench/`))) part = "the proxy's handler";
    else if (stack.some((f) => f.url.startsWith("ext:deno_http/"))) {
      part = "Deno.serve (HTTP server)";
    } else part = "other (streams, promise jobs, timers)";
    byPart[part] += us;
    if (part === "Outpost's own code" && own !== undefined) {
      const key = `${own.functionName || "(anonymous)"} ${own.url.slice(ownRoot.length)}:${
        own.lineNumber + 1
      }`;
      byFrame.set(key, (byFrame.get(key) ?? 0) + us);
    }
  }
  return { byPart, byFrame, idleUs };
}

function isOwn(url: string, root: string): boolean {
  return url.startsWith(root) && !url.startsWith(`${root}bench/`);
}

/** One profiled target's figures (µs per request). */
export interface ProfiledTarget {
  name: string;
  requests: number;
  requestsPerSec: number;
  perRequestUs: Record<Part, number>;
  busyUs: number;
  topFrames: Array<{ frame: string; us: number }>;
}

const SECRET = "forward-profile-secret-for-outpost-0123456789abcdef";
const BIG = { limit: 1_000_000, windowS: 1 };
/** Samples in the first part of a run are left out (connections opening, the JIT warming). */
const SETTLE_MS = 500;

async function profileTarget(
  name: string,
  start: (profileDir: string) => Promise<{ server: Server; startedAt: number }>,
  path: string,
  headers: Record<string, string>,
  durationS: number,
  cpus: { server?: string; wrk?: string },
  ownRoot: string,
): Promise<ProfiledTarget> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-forward-profile-" });
  try {
    const { server, startedAt } = await start(dir);
    try {
      for (let i = 0; i < 20; i++) {
        await (await fetch(`${server.url}${path}`, { headers })).body?.cancel();
      }
      const from = Date.now();
      const wrk = await runWrk(`${server.url}${path}`, {
        durationS,
        connections: 50,
        headers,
        cpus: cpus.wrk,
      });
      const to = Date.now();
      if (wrk.non2xx > 0 || wrk.errors > 0) {
        throw new Error(`${name}: ${wrk.non2xx} non-2xx answers, ${wrk.errors} socket errors`);
      }
      await server.stop();
      const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".cpuprofile"));
      if (!file) throw new Error(`${name}: no CPU profile was written`);
      const profile = JSON.parse(await Deno.readTextFile(`${dir}/${file.name}`)) as CpuProfile;
      const fromUs = (from + SETTLE_MS - startedAt) * 1000;
      const toUs = (to - startedAt) * 1000;
      const { byPart, byFrame } = attribute(profile, { fromUs, toUs }, ownRoot);
      // The requests answered inside the window, assuming an even rate over wrk's run.
      const requests = wrk.requests * (to - from - SETTLE_MS) / (to - from);
      const perRequestUs = Object.fromEntries(
        PARTS.map((p) => [p, byPart[p] / requests]),
      ) as Record<Part, number>;
      const busyUs = PARTS.reduce((sum, p) => sum + perRequestUs[p], 0);
      const topFrames = [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, 15)
        .map(([frame, us]) => ({ frame, us: us / requests }));
      return {
        name,
        requests: wrk.requests,
        requestsPerSec: wrk.requestsPerSec,
        perRequestUs,
        busyUs,
        topFrames,
      };
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Profiles the three targets, one after the other, against one origin. */
export async function profileForwarding(durationS = 8): Promise<ProfiledTarget[]> {
  const root = new URL("../", import.meta.url);
  const ownRoot = root.href;
  const pin = await hasTaskset();
  const cpus = pin ? { server: "1", wrk: "0" } : {};
  const dir = await Deno.makeTempDir({ prefix: "outpost-forward-profile-cfg-" });
  const originPort = freePort();
  const origin = await startDeno(["run", "-A", "bench/servers/origin.ts"], {
    cwd: root.pathname,
    env: { PORT: String(originPort) },
    readyUrl: `http://127.0.0.1:${originPort}/nostore/bench`,
    cpus: cpus.server,
  });
  try {
    const minimal = (profileDir: string) => {
      const port = freePort();
      const startedAt = Date.now();
      return startDeno(
        [
          "run",
          "-A",
          "--cpu-prof",
          `--cpu-prof-dir=${profileDir}`,
          "bench/servers/profiled.ts",
          "bench/servers/min_proxy.ts",
        ],
        {
          cwd: root.pathname,
          env: { ORIGIN_URL: origin.url, PORT: String(port) },
          readyUrl: `http://127.0.0.1:${port}/nostore/bench`,
          cpus: cpus.server,
        },
      ).then((server) => ({ server, startedAt }));
    };
    const config = `${dir}/outpost.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        authz: {
          rateLimit: {
            localAllowance: 1000,
            classes: { standard: BIG, premium: BIG, anonymous: BIG },
          },
        },
      }),
    );
    const outpost = (profileDir: string) => {
      const port = freePort();
      const startedAt = Date.now();
      return startDeno(
        ["run", "-A", "--cpu-prof", `--cpu-prof-dir=${profileDir}`, "main.ts"],
        {
          cwd: root.pathname,
          env: {
            DEMO_ORIGIN: "off",
            ORIGIN_URL: origin.url,
            KV_PATH: ":memory:",
            LOG_LEVEL: "error",
            OUTPOST_MODE: "development",
            JWT_SECRET: SECRET,
            OUTPOST_CONFIG: config,
            PORT: String(port),
          },
          readyUrl: `http://127.0.0.1:${port}/_edge/health`,
          cpus: cpus.server,
        },
      ).then((server) => ({ server, startedAt }));
    };
    const token = await mintToken({ sub: "bench-user", roles: ["viewer"], ttlS: 86400 }, SECRET);
    const results: ProfiledTarget[] = [];
    results.push(
      await profileTarget(
        "minimal Deno proxy",
        minimal,
        "/nostore/bench",
        {},
        durationS,
        cpus,
        ownRoot,
      ),
    );
    results.push(
      await profileTarget(
        "Outpost uncacheable GET",
        outpost,
        "/nostore/bench",
        {},
        durationS,
        cpus,
        ownRoot,
      ),
    );
    results.push(
      await profileTarget(
        "Outpost /api/* authorized",
        outpost,
        "/api/bench",
        { authorization: `Bearer ${token}` },
        durationS,
        cpus,
        ownRoot,
      ),
    );
    return results;
  } finally {
    await origin.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The profile as a Markdown section: parts side by side, then Outpost's heaviest frames. */
export function forwardProfileMarkdown(rows: ProfiledTarget[]): string {
  const f = (n: number) => n.toFixed(1);
  const lines = [
    "### Where a forward's CPU goes (µs per request, V8 sampling profile)",
    "",
    `| part | ${rows.map((r) => r.name).join(" | ")} |`,
    `| --- | ${rows.map(() => "---:").join(" | ")} |`,
    ...PARTS.map((p) => `| ${p} | ${rows.map((r) => f(r.perRequestUs[p])).join(" | ")} |`),
    `| **busy, all parts** | ${rows.map((r) => `**${f(r.busyUs)}**`).join(" | ")} |`,
    `| requests/s under the profiler | ${
      rows.map((r) => Math.round(r.requestsPerSec)).join(" | ")
    } |`,
    "",
  ];
  for (const r of rows.filter((r) => r.topFrames.length > 0)) {
    lines.push(
      `${r.name}: Outpost's heaviest frames (the deepest of its own frames on each sample, with the built-ins it calls)`,
      "",
      "| frame | µs/req |",
      "| --- | ---: |",
      ...r.topFrames.map((t) => `| \`${t.frame}\` | ${t.us.toFixed(2)} |`),
      "",
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const usage = "Usage: deno run -A bench/forward_profile.ts [--duration 8] [--json]";
  if (Deno.args.includes("--help")) {
    console.log(usage);
    Deno.exit(0);
  }
  const i = Deno.args.indexOf("--duration");
  const duration = i >= 0 ? Number(Deno.args[i + 1]) : 8;
  if (!Number.isFinite(duration) || duration < 2) {
    console.error(`--duration takes seconds (2 or more)\n${usage}`);
    Deno.exit(2);
  }
  if (!(await hasWrk())) {
    console.error("wrk is not installed (Debian: apt install wrk)");
    Deno.exit(1);
  }
  const rows = await profileForwarding(duration);
  console.log(
    Deno.args.includes("--json") ? JSON.stringify(rows, null, 2) : forwardProfileMarkdown(rows),
  );
}

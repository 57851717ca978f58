/**
 * Authorization overhead under load: the same proxied `/api/echo` on two edge processes, one with
 * authorization off and one protected (a valid token, a cached verification, the local rate
 * allowance, one module decision per request), side by side; reports the throughput ratio.
 * Servers are pinned to CPU 1 and wrk to CPU 0 when `taskset` exists.
 * Usage: deno run -A bench/load/authz.ts [--duration 5] [--connections 50] [--rounds 3]
 */

import { edgeSettled, freePort, hasTaskset, startDeno } from "../lib/process.ts";
import { type LoadOptions, type LoadSuite, runStandalone, withRatios } from "../lib/report.ts";
import { hasWrk, runWrkRounds } from "../lib/wrk.ts";
import { mintToken } from "../../tools/token.ts";

const SECRET = "load-bench-secret-for-outpost-authz-0123456789";
const BIG = { limit: 1_000_000, windowS: 1 };

/** Runs the suite and returns it. */
export async function run(opts: LoadOptions = {}): Promise<LoadSuite> {
  const title =
    "Authorization overhead: /api/echo protected (JWT, rate limit, WASM policy) vs open";
  const baseline = "/api/echo unprotected";
  if (!(await hasWrk())) return withRatios(title, baseline, [], [], ["wrk"]);
  const pin = await hasTaskset();
  const cpus = pin ? "1" : undefined;
  const root = new URL("../../", import.meta.url).pathname;
  const dir = await Deno.makeTempDir();
  const configPath = `${dir}/outpost.config.json`;
  // Classes large enough that the benchmark measures authorization, not 429s.
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      authz: { rateLimit: { classes: { standard: BIG, premium: BIG, anonymous: BIG } } },
    }),
  );
  const common = { KV_PATH: ":memory:", LOG_LEVEL: "error", OUTPOST_MODE: "development" };
  const plainPort = freePort();
  const authzPort = freePort();
  const plain = await startDeno(["run", "-A", "main.ts"], {
    cwd: root,
    env: {
      ...common,
      PORT: String(plainPort),
      ORIGIN_PORT: String(freePort()),
      AUTHZ_ENABLED: "false",
    },
    readyUrl: `http://127.0.0.1:${plainPort}/_edge/health?verbose=1`,
    ready: edgeSettled,
    cpus,
  });
  const protectedEdge = await startDeno(["run", "-A", "main.ts"], {
    cwd: root,
    env: {
      ...common,
      PORT: String(authzPort),
      ORIGIN_PORT: String(freePort()),
      OUTPOST_CONFIG: configPath,
      JWT_SECRET: SECRET,
    },
    readyUrl: `http://127.0.0.1:${authzPort}/_edge/health?verbose=1`,
    ready: edgeSettled,
    cpus,
  });
  try {
    const token = await mintToken({ sub: "bench-user", roles: ["viewer"], ttlS: 86400 }, SECRET);
    const headers = { authorization: `Bearer ${token}` };
    const check = await fetch(`http://127.0.0.1:${authzPort}/api/echo`, { headers });
    await check.body?.cancel();
    if (check.status !== 200) throw new Error(`protected /api/echo answered ${check.status}`);
    const durationS = opts.durationS ?? 5;
    const connections = opts.connections ?? 50;
    const rounds = opts.rounds ?? 3;
    const rows = await runWrkRounds([
      { name: baseline, url: `http://127.0.0.1:${plainPort}/api/echo` },
      {
        name: "/api/echo protected (valid token)",
        url: `http://127.0.0.1:${authzPort}/api/echo`,
        options: { headers },
      },
    ], { durationS, connections, threads: 1, rounds, cpus: pin ? "0" : undefined });
    return withRatios(title, baseline, rows, [
      `wrk -t1 -c${connections} -d${durationS}s, median of ${rounds} alternating rounds ` +
      `(samples: ${rows.map((r) => `${r.name} ${r.samples.join("/")}`).join("; ")}).`,
      "Both edges proxy to their own in-process demo origin; the protected one verifies one " +
      "token (cached after the first request), takes from the local rate allowance " +
      "(KV refills in the background) and asks the WebAssembly module once per request.",
      pin
        ? "Edges pinned to CPU 1 (one at a time under load), wrk to CPU 0 (taskset)."
        : "taskset missing: servers and wrk share the cores.",
    ]);
  } finally {
    await protectedEdge.stop();
    await plain.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await runStandalone("authz", run);

/**
 * Where start-up time goes: each stage of what main.ts does, timed in a fresh process, median of
 * `--runs` (7) processes. Stages run in main.ts's order, so each figure is what that stage adds:
 * zod and hono first (the only npm packages start-up loads), then the config modules and the
 * config's validation, the rest of the app's modules, opening KV (a fresh file), building the
 * app, listening, and the first answers (health, then a page through the cache from an
 * in-process origin). `runtime` is the time from the process's start to the first line of code.
 * A profile to read next to bench/cold_start.ts, not a benchmark of its own.
 * Run: deno run --allow-all bench/startup_profile.ts [--runs 7] [--json]
 */

const STAGE_SCRIPT = `
const t = [["runtime", performance.now()]];
let last = performance.now();
const mark = (name) => { const now = performance.now(); t.push([name, now - last]); last = now; };
const root = Deno.args[0];
for (const spec of ["zod", "hono"]) {
  await import(spec);
  mark("import " + spec);
}
const { loadConfig } = await import(root + "lib/core/config.ts");
mark("import lib/core/config.ts (config schemas)");
const dir = await Deno.makeTempDir();
const origin = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () =>
  new Response("page", { headers: { "cache-control": "public, max-age=60" } }));
last = performance.now();
const config = loadConfig({ env: {
  KV_PATH: dir + "/kv.sqlite3", PORT: "0", ORIGIN_URL: "http://127.0.0.1:" + origin.addr.port,
  ADMIN_TOKEN: "startup-profile-admin-token", CENTRAL_TOKEN: "startup-profile-central-token",
  LOG_LEVEL: "error",
} });
mark("loadConfig() (validation)");
const { createApp } = await import(root + "lib/core/app.ts");
mark("import lib/core/app.ts (the rest of the app)");
const kv = await Deno.openKv(config.kvPath);
mark("Deno.openKv (fresh file)");
const edge = createApp({ config, kv, secrets: { JWT_SECRET: "startup-profile-jwt-secret-0123456789abcdef" } });
mark("createApp()");
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, edge.fetch);
mark("Deno.serve (listening)");
const base = "http://127.0.0.1:" + server.addr.port;
await (await edge.fetch(new Request(base + "/_edge/health"))).text();
mark("first answer: /_edge/health (edge.fetch)");
const page = await edge.fetch(new Request(base + "/cacheable/startup"));
await page.text();
mark("first answer: page through the cache, a miss (edge.fetch)");
await (await edge.fetch(new Request(base + "/cacheable/startup-2"))).text();
mark("second page, another miss (edge.fetch)");
// Not on the start path: what the first encoded forward or edge.warm() pays later.
await import("node:http");
mark("later: node:http with the Node compatibility layer (first encoded forward)");
console.log(JSON.stringify(t));
await server.shutdown();
await origin.shutdown();
await edge.close();
kv.close();
await Deno.remove(dir, { recursive: true });
Deno.exit(0);
`;

const root = new URL("../", import.meta.url);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** One stage's median and spread over the runs, in ms. */
export interface StageTiming {
  stage: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

/** Runs the stages in `runs` fresh processes. */
export async function profileStartup(runs = 7): Promise<StageTiming[]> {
  const script = await Deno.makeTempFile({ suffix: ".js" });
  await Deno.writeTextFile(script, STAGE_SCRIPT);
  const all: Array<Array<[string, number]>> = [];
  try {
    for (let i = 0; i < runs + 1; i++) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "--config",
          new URL("deno.json", root).pathname,
          script,
          root.href,
        ],
        cwd: root.pathname,
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr).slice(-500));
      const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
      if (i > 0) all.push(JSON.parse(line)); // the first run warms the caches
    }
  } finally {
    await Deno.remove(script);
  }
  return all[0].map(([stage], i) => {
    const values = all.map((run) => run[i][1]);
    return {
      stage,
      medianMs: median(values),
      minMs: Math.min(...values),
      maxMs: Math.max(...values),
    };
  });
}

/** The stages as a Markdown table. */
export function startupMarkdown(stages: StageTiming[], runs: number): string {
  const total = stages.reduce((sum, s) => sum + s.medianMs, 0);
  return [
    `| stage (median of ${runs} fresh processes) | ms | min | max |`,
    "| --- | ---: | ---: | ---: |",
    ...stages.map((s) =>
      `| ${s.stage} | ${s.medianMs.toFixed(1)} | ${s.minMs.toFixed(1)} | ${s.maxMs.toFixed(1)} |`
    ),
    `| sum of medians | ${total.toFixed(1)} | | |`,
  ].join("\n");
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--runs");
  const runs = i >= 0 ? Number(Deno.args[i + 1]) : 7;
  const stages = await profileStartup(runs);
  console.log(
    Deno.args.includes("--json") ? JSON.stringify(stages) : startupMarkdown(stages, runs),
  );
}

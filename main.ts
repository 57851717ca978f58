/**
 * The edge node's process: read config, open KV, build the app, serve, and shut down cleanly.
 * Locally (`deno task dev`) the demo origin runs in this process on its own port and is reached
 * over real HTTP; on Deno Deploy the same file runs unchanged with `Deno.openKv()`, listens where
 * the platform says (`DENO_SERVE_ADDRESS`, honoured by the first `Deno.serve` only) and exits
 * within the 5 s the platform allows after SIGINT (docs/deploy.md).
 */

import { createApp, type Edge } from "./lib/app.ts";
import { ConfigError, type EdgeConfig, loadConfig } from "./lib/config.ts";
import { LazyIpCountry } from "./lib/geo/ipdb.ts";
import { createLogger } from "./lib/log.ts";
import { createDemoOrigin } from "./lib/origin/demo.ts";
import { manifestOf } from "./lib/features/functions/feature.ts";
import { installCrashGuard } from "./lib/features/functions/guard.ts";
import { EdgeKv } from "./lib/features/platform/kv.ts";
// Users' functions: a static import, so they are deployed, type-checked and watched with the app.
import functionsManifest from "./functions/_manifest.ts";

// Deno Deploy runs only crons registered at the top level of the entry module, before serving.
// This one does work only when `analytics.scheduler` is "cron"; otherwise the flush is a job.
let analyticsCronTick: (() => Promise<unknown>) | null = null;
if (typeof Deno.cron === "function") {
  Deno.cron("outpost-analytics-flush", "* * * * *", async () => {
    await analyticsCronTick?.();
  });
}

async function readConfigModule(path: string | undefined): Promise<unknown> {
  if (!path) return undefined;
  const url = new URL(path, `file://${Deno.cwd()}/`);
  if (path.endsWith(".json")) return JSON.parse(await Deno.readTextFile(url));
  const mod = await import(url.href);
  return mod.default ?? mod.config;
}

async function main(): Promise<void> {
  const env = Deno.env.toObject();
  let config: EdgeConfig;
  try {
    config = loadConfig({ env, module: await readConfigModule(env.OUTPOST_CONFIG) });
  } catch (error) {
    const message = error instanceof ConfigError
      ? error.message
      : `Invalid config: could not read ${env.OUTPOST_CONFIG}: ${(error as Error).message}`;
    console.error(message);
    Deno.exit(1);
  }
  const log = createLogger({ level: config.log.level, fields: { region: config.region } });
  // A KV that cannot be opened leaves the node up: KV-backed features answer 503, health says why.
  const edgeKv = await EdgeKv.open({
    path: config.kvPath,
    url: config.kvUrl,
    env,
    log: log.child({ area: "kv" }),
  });
  const kv = edgeKv.kv;

  const ipdb = new LazyIpCountry();
  if (config.geo.ipDatabase) {
    ipdb.load().then(() => {
      if (ipdb.error) log.warn("ip database failed to load", { error: ipdb.error });
      else log.info("ip database loaded", { ranges: ipdb.size });
    });
  }

  let edge: Edge;
  try {
    edge = createApp({
      config,
      kv,
      ipdb,
      log,
      jwtSecret: env.JWT_SECRET,
      functions: await manifestOf(config.functions.dir, functionsManifest),
      edgeKv,
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    edgeKv.close();
    Deno.exit(1);
  }
  for (const secret of edge.missingSecrets) {
    log.warn(`${secret.name} is not set: ${secret.disables} answer 503 until it is`, {
      mode: config.mode,
    });
  }
  // A function's stray timer or unawaited promise must not take the node down with it.
  if (edge.functions) installCrashGuard(log, edge.metrics);
  // The edge's server first: the platform's listen address goes to the first Deno.serve only.
  const server = Deno.serve({
    port: config.port,
    onListen: ({ hostname, port }) =>
      log.info("edge listening", {
        url: `http://${hostname === "0.0.0.0" ? "localhost" : hostname}:${port}`,
        mode: config.mode,
        platform: config.platform.kind,
        regions: config.regions.map((r) => `${r.name}→${r.origin}`),
      }),
  }, edge.fetch);
  let demoServer: Deno.HttpServer | null = null;
  if (config.demoOrigin.mode === "port") {
    const demo = createDemoOrigin({ name: "demo" });
    demoServer = Deno.serve({
      port: config.demoOrigin.port ?? 0,
      hostname: "127.0.0.1",
      onListen: ({ port }) =>
        log.info("demo origin listening", { url: `http://127.0.0.1:${port}` }),
    }, (req) => demo.fetch(req));
  }
  // Analytics summaries go to this node's own /_central/* over real HTTP in development.
  if (config.mode === "development") {
    edge.analytics.setSelfUrl(`http://127.0.0.1:${server.addr.port}`);
  }
  const analytics = edge.analytics.edge;
  if (analytics && config.analytics.scheduler === "cron") {
    // Logged here with context; rethrown so the platform records the run as failed.
    analyticsCronTick = () =>
      analytics.tick().catch((error) => {
        log.error("analytics cron flush failed", { error });
        throw error;
      });
  }
  edge.start();

  let stopping = false;
  const abort = new AbortController();
  async function shutdown(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    const began = performance.now();
    const budget = config.platform.shutdownMs;
    log.info("shutting down", { signal, budget_ms: budget });
    const deadline = setTimeout(() => {
      log.error("shutdown took too long; exiting", { budget_ms: budget });
      Deno.exit(1);
    }, budget);
    const left = () => budget - (performance.now() - began);
    // While the server still answers (it may be its own collector): write tracked events and,
    // where this node closes intervals itself, send what can be sent; the rest stays in the
    // outbox. Half the budget at most, so the server and KV still get theirs.
    await edge.analytics.edge?.shutdown(
      Math.min(config.analytics.shutdownFlushMs, Math.max(0, left() / 2)),
    );
    // In-flight requests get what is left, less a margin for closing jobs and KV.
    const drain = setTimeout(() => {
      log.warn("requests still running at the shutdown deadline; closing anyway");
      abort.abort();
    }, Math.max(0, left() - 700));
    await Promise.race([
      server.shutdown().catch((error) => log.error("server shutdown failed", { error })),
      new Promise((resolve) => abort.signal.addEventListener("abort", resolve)),
    ]);
    clearTimeout(drain);
    await demoServer?.shutdown().catch((error) => log.error("demo shutdown failed", { error }));
    await edge.close({ graceMs: Math.max(0, left() - 300) });
    edgeKv.close();
    clearTimeout(deadline);
    log.info("stopped", { shutdown_ms: Math.round(performance.now() - began) });
    Deno.exit(0);
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, () => void shutdown(signal));
    } catch {
      // Some platforms (Windows for SIGTERM, some hosts) do not deliver this signal.
    }
  }
}

if (import.meta.main) await main();

/**
 * The edge node's process: read config, open KV, build the app, serve, and shut down cleanly.
 * Locally (`deno task dev`) the demo origin runs in this process on its own port and is reached
 * over real HTTP; on Deno Deploy the same file runs unchanged with `Deno.openKv()`, listens where
 * the platform says (`DENO_SERVE_ADDRESS`, honoured by the first `Deno.serve` only) and exits
 * within the 5 s the platform allows after SIGINT (docs/deploy.md).
 *
 * Start-up is paid by users (isolates start on demand), so it does as little as it can in
 * order: the config loader loads with the features' config sections only; the app and the
 * features' implementations load while the config is read, KV opens and the authorization module
 * compiles; the server listens as soon as the request path is built; what needs Deno's Node
 * compatibility layer and the IP database come up behind it (health says "warming" until the
 * database has). See docs/cold_start.md.
 */

import type { Edge } from "./lib/core/app.ts";
import { ConfigError } from "./lib/platform/config/errors.ts";
import { type EdgeConfig, loadConfig, loadSecrets } from "./lib/core/config.ts";
import { createLogger, type Logger } from "./lib/core/log.ts";
import { precompilePolicyModule } from "./lib/features/authz/precompile.ts";
import { EdgeKv } from "./lib/features/deploy/kv.ts";
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

/** How long slow extras wait for a first request before they load anyway. */
const WARM_UP_DELAY_MS = 250;

/**
 * The modules the config loader does not bring (the app, and through lib/core/features.ts every
 * feature's implementation), loaded while the config is read and KV opens.
 */
function loadAppModules() {
  return Promise.all([
    import("./lib/core/app.ts"),
    import("./lib/features/functions/feature.ts"),
    import("./lib/features/functions/guard.ts"),
    import("./lib/features/geo/ipdb.ts"),
  ]);
}

async function readConfigModule(path: string | undefined): Promise<unknown> {
  if (!path) return undefined;
  const url = new URL(path, `file://${Deno.cwd()}/`);
  if (path.endsWith(".json")) return JSON.parse(await Deno.readTextFile(url));
  const mod = await import(url.href);
  return mod.default ?? mod.config;
}

/** A start-up failure the operator can fix: printed as one line, then exit 1. */
class StartupError extends Error {}

/**
 * Opens the node's KV. A local file that cannot be opened is the operator's to fix: start-up
 * stops naming KV_PATH. The platform's database (Deno Deploy) or a remote one (`KV_URL`) that
 * cannot be opened leaves the node up: KV-backed features answer 503, health says why, and the
 * open is retried (a crash before serving would make the platform answer 502 to everything).
 */
async function openKv(config: EdgeConfig, env: Record<string, string>, log: Logger) {
  const edgeKv = await EdgeKv.open({
    path: config.kvPath,
    url: config.kvUrl,
    env,
    log: log.child({ area: "kv" }),
  });
  if (!edgeKv.open && edgeKv.source === "path") {
    edgeKv.close();
    throw new StartupError(
      `Cannot open the KV store at ${config.kvPath} (KV_PATH): ${edgeKv.error}`,
    );
  }
  return edgeKv;
}

/** Why a port cannot be listened on, in one line naming the variable that moves it. */
function listenError(error: unknown, port: number, variable: string): Error {
  if (error instanceof Deno.errors.AddrInUse) {
    return new StartupError(
      `Cannot listen on port ${port}: another process is using it ` +
        `(stop it, or set ${variable} to another port)`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return new StartupError(`Cannot listen on port ${port} (${variable}): ${error.message}`);
  }
  return error as Error;
}

/** `Deno.serve`, with a busy or forbidden port turned into a {@linkcode StartupError}. */
function serve(
  options: Deno.ServeTcpOptions,
  variable: string,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve(options, handler);
  } catch (error) {
    throw listenError(error, options.port ?? 8000, variable);
  }
}

/** Reads the config from the environment and the config module; exits 1 with one line if bad. */
async function configFrom(env: Record<string, string>): Promise<EdgeConfig> {
  try {
    return loadConfig({ env, module: await readConfigModule(env.OUTPOST_CONFIG) });
  } catch (error) {
    throw new StartupError(
      error instanceof ConfigError
        ? error.message
        : `Invalid config: could not read ${env.OUTPOST_CONFIG}: ${(error as Error).message}`,
    );
  }
}

/**
 * `main.ts --check`: what start-up would refuse (the config, busy ports), without starting.
 * `deno task dev` runs it before `deno run --watch`, whose watcher would otherwise wait for a
 * file change instead of exiting when start-up fails.
 */
async function check(): Promise<void> {
  const config = await configFrom(Deno.env.toObject());
  const ports: Array<[number, string, string | undefined]> = [[config.port, "PORT", undefined]];
  if (config.demoOrigin.mode === "port" && config.demoOrigin.port) {
    ports.push([config.demoOrigin.port, "ORIGIN_PORT", "127.0.0.1"]);
  }
  for (const [port, variable, hostname] of ports) {
    if (port === 0) continue;
    try {
      Deno.listen({ port, hostname }).close();
    } catch (error) {
      throw listenError(error, port, variable);
    }
  }
}

async function main(): Promise<void> {
  const env = Deno.env.toObject();
  const modules = loadAppModules();
  modules.catch(() => {}); // awaited below; a bad config may end start-up first
  const config = await configFrom(env);
  const log = createLogger({ level: config.log.level, fields: { region: config.region } });
  const [edgeKv, policyModule, [{ createApp }, functionsFeature, { installCrashGuard }, geo]] =
    await Promise.all([
      openKv(config, env, log),
      config.authz.enabled ? precompilePolicyModule(config.authz.wasm.path) : null,
      modules,
    ]);
  const kv = edgeKv.kv;

  // Off: health says so. On: loaded once the server listens (health says "warming" until then).
  const ipdb = config.geo.ipDatabase ? new geo.LazyIpCountry() : undefined;
  let edge: Edge;
  try {
    edge = createApp({
      config,
      kv,
      ipdb,
      log,
      secrets: loadSecrets(env),
      authzWasm: policyModule?.bytes,
      authzModule: policyModule?.module,
      functions: await functionsFeature.manifestOf(config.functions.dir, functionsManifest),
      edgeKv,
    });
  } catch (error) {
    edgeKv.close();
    if (error instanceof ConfigError) throw new StartupError(error.message);
    throw error;
  }
  // Imported before listening: nothing may await between the two servers' starts.
  const demoModule = config.demoOrigin.mode === "port"
    ? await import("./lib/features/proxy/demo_origin.ts")
    : null;
  // Slow extras start once the first answer is out (or soon after listening without a request):
  // reading the IP database blocks the event loop for a while, and the request that woke the
  // isolate should not wait for it. Health says "warming" from the start until they are up.
  const firstAnswer = Promise.withResolvers<void>();
  const warmUpTimer = setTimeout(firstAnswer.resolve, WARM_UP_DELAY_MS);
  let answered = false;
  const handler = edge.fetch;
  // The edge's server first: the platform's listen address goes to the first Deno.serve only.
  let server: Deno.HttpServer<Deno.NetAddr>;
  let demoServer: Deno.HttpServer<Deno.NetAddr> | null = null;
  try {
    server = serve(
      {
        port: config.port,
        onListen: ({ hostname, port }) =>
          log.info("edge listening", {
            url: `http://${hostname === "0.0.0.0" ? "localhost" : hostname}:${port}`,
            mode: config.mode,
            platform: config.platform.kind,
            regions: config.regions.map((r) => `${r.name}→${r.origin}`),
          }),
      },
      "PORT",
      (req, info) => {
        if (!answered) {
          answered = true;
          clearTimeout(warmUpTimer);
          info.completed.then(firstAnswer.resolve, firstAnswer.resolve);
        }
        return handler(req, info);
      },
    );
  } catch (error) {
    clearTimeout(warmUpTimer);
    await edge.close();
    edgeKv.close();
    throw error;
  }
  if (demoModule) {
    const demo = demoModule.createDemoOrigin({ name: "demo" });
    try {
      demoServer = serve(
        {
          port: config.demoOrigin.port ?? 0,
          hostname: "127.0.0.1",
          onListen: ({ port }) =>
            log.info("demo origin listening", { url: `http://127.0.0.1:${port}` }),
        },
        "ORIGIN_PORT",
        (req) => demo.fetch(req),
      );
    } catch (error) {
      clearTimeout(warmUpTimer);
      await server.shutdown();
      await edge.close();
      edgeKv.close();
      throw error;
    }
  }
  for (const secret of edge.missingSecrets) {
    log.warn(`${secret.name} is not set: ${secret.disables} answer 503 until it is`, {
      mode: config.mode,
    });
  }
  // A function's stray timer or unawaited promise must not take the node down with it.
  if (edge.functions) installCrashGuard(log, edge.metrics);
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
  // Code the features left out of start-up (the Node compatibility layer among it) loads once
  // the first answer is out; whatever needs it before then loads it itself.
  firstAnswer.promise.then(() => edge.warm()).catch((error) =>
    log.error("loading deferred code failed; it is loaded again when first needed", { error })
  );
  ipdb?.load(undefined, { after: firstAnswer.promise }).then(() => {
    if (ipdb.error) log.warn("ip database failed to load", { error: ipdb.error });
    else log.info("ip database loaded", { size: ipdb.size });
  });

  let stopping = false;
  const abort = new AbortController();
  async function shutdown(signal: Deno.Signal): Promise<void> {
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
    // WebSockets get a 1001 close on both sides before the server drops their connections; their
    // answers are awaited briefly (a quarter of what is left, a second at most).
    await edge.websocket?.close(Math.max(0, Math.min(1000, left() / 4)));
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

if (import.meta.main) {
  try {
    if (Deno.args.includes("--check")) {
      await check();
      Deno.exit(0); // the cron registered above would keep the process alive
    }
    await main();
  } catch (error) {
    if (!(error instanceof StartupError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  }
}

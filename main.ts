/**
 * The edge node's process: read config, open KV, build the app, serve, and shut down cleanly.
 * Locally (`deno task dev`) the demo origin runs in this process on its own port and is reached
 * over real HTTP; on Deno Deploy the same file runs unchanged with `Deno.openKv()`.
 */

import { createApp, type Edge } from "./lib/app.ts";
import { ConfigError, type EdgeConfig, loadConfig } from "./lib/config.ts";
import { LazyIpCountry } from "./lib/geo/ipdb.ts";
import { createLogger, type Logger } from "./lib/log.ts";
import { createDemoOrigin } from "./lib/origin/demo.ts";
import { manifestOf } from "./lib/features/functions/feature.ts";
import { installCrashGuard } from "./lib/features/functions/guard.ts";
// Users' functions: a static import, so they are deployed, type-checked and watched with the app.
import functionsManifest from "./functions/_manifest.ts";

// Deno Deploy runs only crons registered at the top level of the entry module, before serving.
// This one does work only when `analytics.scheduler` is "cron"; otherwise the flush is a job.
let analyticsCronTick: (() => Promise<unknown>) | null = null;
Deno.cron("outpost-analytics-flush", "* * * * *", async () => {
  await analyticsCronTick?.();
});

async function readConfigModule(path: string | undefined): Promise<unknown> {
  if (!path) return undefined;
  const url = new URL(path, `file://${Deno.cwd()}/`);
  if (path.endsWith(".json")) return JSON.parse(await Deno.readTextFile(url));
  const mod = await import(url.href);
  return mod.default ?? mod.config;
}

/** A start-up failure the operator can fix: printed as one line, then exit 1. */
class StartupError extends Error {}

async function openKv(config: EdgeConfig, log: Logger): Promise<Deno.Kv> {
  const path = config.kvPath;
  try {
    if (path && path !== ":memory:") {
      const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
      if (dir) await Deno.mkdir(dir, { recursive: true });
    }
    const kv = await Deno.openKv(path);
    log.info("kv opened", { path: path ?? "(platform default)" });
    return kv;
  } catch (error) {
    throw new StartupError(
      `Cannot open the KV store at ${path ?? "(platform default)"} (KV_PATH): ${
        (error as Error).message
      }`,
    );
  }
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
  const config = await configFrom(env);
  const log = createLogger({ level: config.log.level, fields: { region: config.region } });
  const kv = await openKv(config, log);

  const ipdb = new LazyIpCountry();
  if (config.geo.ipDatabase) {
    ipdb.load().then(() => {
      if (ipdb.error) log.warn("ip database failed to load", { error: ipdb.error });
      else log.info("ip database loaded", { ranges: ipdb.size });
    });
  }

  let demoServer: Deno.HttpServer<Deno.NetAddr> | null = null;
  if (config.demoOrigin.mode === "port") {
    const demo = createDemoOrigin({ name: "demo" });
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
    });
  } catch (error) {
    kv.close();
    if (error instanceof ConfigError) throw new StartupError(error.message);
    throw error;
  }
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = serve(
      {
        port: config.port,
        onListen: ({ hostname, port }) =>
          log.info("edge listening", {
            url: `http://${hostname === "0.0.0.0" ? "localhost" : hostname}:${port}`,
            mode: config.mode,
            regions: config.regions.map((r) => `${r.name}→${r.origin}`),
          }),
      },
      "PORT",
      edge.fetch,
    );
  } catch (error) {
    await edge.close();
    kv.close();
    throw error;
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
    analyticsCronTick = () => analytics.tick();
  }
  edge.start();

  let stopping = false;
  async function shutdown(signal: Deno.Signal): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    const deadline = setTimeout(() => {
      log.error("shutdown took too long; exiting");
      Deno.exit(1);
    }, 10_000 + config.analytics.shutdownFlushMs);
    // While the server still answers (it may be its own collector): close the running interval
    // and send what can be sent in bounded time; the rest stays in the outbox for next start.
    await edge.analytics.edge?.shutdown();
    // WebSockets get a 1001 close on both sides before the server drops their connections.
    await edge.websocket?.close();
    await server.shutdown().catch((error) => log.error("server shutdown failed", { error }));
    await demoServer?.shutdown().catch((error) => log.error("demo shutdown failed", { error }));
    await edge.close();
    kv.close();
    clearTimeout(deadline);
    log.info("stopped");
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

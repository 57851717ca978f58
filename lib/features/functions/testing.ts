/**
 * Testing functions the way they run: the whole edge in-process (authorization, A/B, geo,
 * metrics, the functions themselves) with `:memory:` KV, a manual clock and an in-process
 * origin, answering `Request`s without a socket. Import it as `outpost/functions/testing`.
 *
 * @example
 * ```ts
 * import { testFunctions } from "outpost/functions/testing";
 * import manifest from "./_manifest.ts";
 *
 * Deno.test("GET /hello greets France in French", async () => {
 *   await using app = await testFunctions(manifest);
 *   const res = await app.request("/hello", { headers: { "cf-ipcountry": "FR" } });
 *   console.assert((await res.json()).greeting === "Bonjour");
 * });
 * ```
 */

import { sign } from "hono/jwt";
import { createApp, type Edge } from "../../core/app.ts";
import { ManualClock } from "../../core/clock.ts";
import { type EdgeConfigInput, loadConfig } from "../../core/config.ts";
import { createLogger, type Logger, type LogLevel } from "../../core/log.ts";
import { FunctionKvStore } from "./kv.ts";
import type { FunctionKv, FunctionManifest, FunctionModule } from "./types.ts";

/** Options of {@linkcode testFunctions}. */
export interface FunctionTestOptions {
  /** Any part of the edge's configuration (e.g. `{ authz: { enabled: false } }`). */
  config?: Partial<EdgeConfigInput>;
  /**
   * The origin behind the edge (what `ctx.origin.fetch` reaches). Default: the built-in demo
   * origin (`/users/:id`, `/api/echo`, `/cacheable/*` …), in-process.
   */
  origin?: (req: Request) => Response | Promise<Response>;
  /** The clock of KV expiry, the cache and tokens (default: a manual clock at the real time). */
  clock?: ManualClock;
  /** Print the edge's log lines at this level and above (default: none). */
  logLevel?: LogLevel;
  /** Where the edge logs (e.g. `memoryLogger()` to assert on lines); overrides `logLevel`. */
  log?: Logger;
}

/** Options of {@linkcode FunctionTestApp.request}. */
export interface TestRequestInit extends RequestInit {
  /** Sends `Authorization: Bearer <a token for this user>` (see {@linkcode FunctionTestApp.token}). */
  user?: { sub: string; roles?: string[] };
}

/** An edge with functions, for tests. */
export interface FunctionTestApp extends AsyncDisposable {
  /** Sends a request to `path` from a client at 127.0.0.1 (a trusted proxy: geo headers count). */
  request(path: string, init?: TestRequestInit): Promise<Response>;
  /** A bearer token the edge accepts (HS256, an hour from the clock's now). */
  token(user: { sub: string; roles?: string[] }): Promise<string>;
  /** A function's KV namespace (its name, or its `config.kv`), to arrange or inspect data. */
  kv(namespace: string): FunctionKv;
  /** The manual clock; advance it to expire KV values and cached responses. */
  clock: ManualClock;
  /** The whole edge (metrics, cache, config …). */
  edge: Edge;
  /** The Prometheus text of the edge's metrics (per-function series included). */
  metrics(): string;
}

const SECRET_BYTES = 24;

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return `outpost-test-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * An in-process edge serving `functions` (a generated manifest, or modules by function name
 * such as `{ "api/user": { GET } }`). Dispose it (`await using`) to close its KV and jobs.
 */
export async function testFunctions(
  functions: FunctionManifest | Record<string, FunctionModule>,
  options: FunctionTestOptions = {},
): Promise<FunctionTestApp> {
  const manifest: FunctionManifest = "functions" in functions && "dir" in functions
    ? functions as FunctionManifest
    : { dir: "functions", functions: functions as Record<string, FunctionModule> };
  const clock = options.clock ?? new ManualClock(Date.now());
  const secret = randomSecret();
  const custom = options.origin;
  const origin = custom ? "http://origin.test" : undefined;
  const config = loadConfig({
    env: { KV_PATH: ":memory:", OUTPOST_MODE: "development" },
    module: {
      ...(origin ? { regions: testRegions(origin) } : {}),
      demoOrigin: { mode: custom ? "off" : "internal" },
      geo: { ipDatabase: false },
      ...options.config,
    },
  });
  const log: Logger = options.log ??
    (options.logLevel
      ? createLogger({ level: options.logLevel })
      : createLogger({ sink: () => {} }));
  const kv = await Deno.openKv(":memory:");
  const edge = createApp({
    config,
    kv,
    clock,
    log,
    secrets: { JWT_SECRET: secret },
    functions: manifest,
    fetch: custom ? async (input, init) => await custom(new Request(input, init)) : undefined,
  });
  const token = async (user: { sub: string; roles?: string[] }) => {
    const now = Math.floor(clock.now() / 1000);
    return await sign(
      { sub: user.sub, roles: user.roles ?? [], iat: now, exp: now + 3600 },
      secret,
    );
  };
  return {
    async request(path, init = {}) {
      const { user, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (user) headers.set("authorization", `Bearer ${await token(user)}`);
      const req = new Request(new URL(path, "http://edge.test"), { ...rest, headers });
      return await edge.fetch(req, { remoteAddr: { hostname: "127.0.0.1", port: 40000 } });
    },
    token,
    kv: (namespace) => new FunctionKvStore(kv, namespace, { clock, limits: config.functions.kv }),
    clock,
    edge,
    metrics: () => edge.monitor.prometheus(),
    async [Symbol.asyncDispose]() {
      await edge.close();
      kv.close();
    },
  };
}

/** The default four regions, all served by one origin. */
function testRegions(origin: string) {
  return [
    { name: "us-west", lat: 37.7749, lon: -122.4194, origin },
    { name: "us-east", lat: 40.7128, lon: -74.006, origin },
    { name: "eu-west", lat: 51.5074, lon: -0.1278, origin },
    { name: "ap-southeast", lat: 1.3521, lon: 103.8198, origin },
  ];
}

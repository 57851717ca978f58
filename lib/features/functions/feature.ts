/**
 * Users' edge functions as one feature: the manifest compiled at start-up (a bad one stops the
 * node with a message naming the file), each function bound to its KV namespace, its cache
 * scope and its metrics, and the routes the app mounts after its own.
 */

import type { Context, Hono } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { AnalyticsEdge } from "../analytics/edge.ts";
import type { EdgeCache } from "../cache/edge_cache.ts";
import type { Clock } from "../../core/clock.ts";
import { ConfigError } from "../../platform/config/errors.ts";
import type { Experiment } from "../ab/config.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import type { Feature } from "../../core/feature.ts";
import { canonicalTarget, isRefusal } from "../../platform/http/target.ts";
import { FUNCTIONS_CONFIG, type FUNCTIONS_FIELDS, type FunctionsConfig } from "./config.ts";
import { FunctionKvStore } from "./kv.ts";
import { MANIFEST_FILE } from "./generate.ts";
import { type CompiledFunction, compileManifest, ManifestError } from "./manifest.ts";
import { type BoundFunction, functionRoutes } from "./routes.ts";
import type { FunctionManifest } from "./types.ts";

/** The services functions are built on (no config, no secrets: nothing a function could leak). */
export interface FunctionServices {
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  /** The node's region. */
  region: string;
  experiments: readonly Experiment[];
  /** Sends a request to the nearest healthy origin, as the proxy forwards. */
  forward: (c: Context<AppEnv>, request: Request) => Promise<Response>;
  cache: EdgeCache | null;
  analytics: AnalyticsEdge | null;
}

/** The running feature. */
export interface Functions {
  /** Every function with its route, in the order they are tried. */
  functions: readonly CompiledFunction[];
  routes: Hono<AppEnv>;
}

declare module "../../core/feature.ts" {
  interface FeatureApis {
    functions: Functions;
  }
  interface FeatureInputs {
    /** Users' edge functions: the generated `functions/_manifest.ts` (docs/functions.md). */
    functions?: FunctionManifest;
  }
}

/** The feature's registration: after the edge's own routes, before the origin. */
export const functionsFeature: Feature<"functions", typeof FUNCTIONS_FIELDS> = {
  name: "functions",
  config: FUNCTIONS_CONFIG,
  create(svc, cfg) {
    const proxy = svc.use("proxy")!;
    // How clients reach this process (a trusted proxy's X-Forwarded-Proto may say otherwise).
    const scheme = svc.config.tls ? "https" : "http";
    const functions = createFunctions(
      {
        kv: svc.kv,
        clock: svc.clock,
        log: svc.log,
        metrics: svc.metrics,
        cache: svc.use("cache"),
        analytics: svc.use("analytics")?.edge ?? null,
        region: svc.config.region,
        experiments: svc.config.experiments,
        forward: (c, request) => {
          // A function's own path is made canonical like a client's before it is forwarded.
          const target = canonicalTarget(request.url, null, scheme);
          if (isRefusal(target)) throw new TypeError(`Invalid origin path: ${target.detail}`);
          return proxy.forward(c, { request, completed: c.env.completed, target });
        },
      },
      cfg.functions,
      svc.inputs.functions,
    );
    // Authorization applies to their routes like to the edge's own.
    return functions === null ? {} : { api: functions, routes: functions.routes };
  },
};

/**
 * Builds the functions of `manifest`; null when there are none or `functions.enabled` is false.
 * Throws `ConfigError` for a manifest the node must not start with.
 */
export function createFunctions(
  svc: FunctionServices,
  cfg: FunctionsConfig,
  manifest: FunctionManifest | undefined,
): Functions | null {
  if (!cfg.enabled || manifest === undefined) return null;
  let compiled: CompiledFunction[];
  try {
    compiled = compileManifest(manifest, { timeoutMs: cfg.timeoutMs });
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    throw new ConfigError(
      `Invalid functions manifest (${manifest.dir}/_manifest.ts): ${error.message}`,
    );
  }
  if (compiled.length === 0) return null;
  const log = svc.log.child({ area: "functions" });
  const { metrics } = svc;
  const duration = metrics.histogram(
    "outpost_function_duration_seconds",
    "Time from a function's call to its response (or its error or timeout), by function",
  );
  const calls = metrics.counter(
    "outpost_function_calls_total",
    "Function calls by function and the status class of the answer",
  );
  const errors = metrics.counter(
    "outpost_function_errors_total",
    "Function failures by function and kind (threw, timeout, invalid_response, problem, " +
      "late_failure, kv_corrupt)",
  );
  const stores = new Map<string, FunctionKvStore>();
  const bound: BoundFunction[] = compiled.map((fn) => {
    const fnLog = log.child({ function: fn.name });
    let store = stores.get(fn.namespace);
    if (store === undefined) {
      store = new FunctionKvStore(svc.kv, fn.namespace, {
        clock: svc.clock,
        limits: cfg.kv,
        onCorrupt(key) {
          errors.inc({ function: fn.name, kind: "kv_corrupt" });
          fnLog.warn("unreadable function KV value ignored", { key: key.slice(0, 200) });
        },
      });
      stores.set(fn.namespace, store);
    }
    return {
      fn,
      parts: {
        name: fn.name,
        kv: store,
        cache: svc.cache?.scoped(fn.namespace) ?? null,
        analytics: svc.analytics,
        region: svc.region,
        log: fnLog,
        forward: svc.forward,
      },
      duration: duration.series({ function: fn.name }),
      calls: ["1xx", "2xx", "3xx", "4xx", "5xx"].map((status) =>
        calls.bind({ function: fn.name, status })
      ),
      errors,
    };
  });
  log.info("functions mounted", {
    functions: compiled.map((f) => `${f.route} → ${f.name}`),
  });
  return {
    functions: compiled,
    routes: functionRoutes(bound, {
      experiments: svc.experiments,
      maxBodyBytes: cfg.maxBodyBytes,
    }),
  };
}

/**
 * The manifest of `dir`: `bundled` (main.ts's static import of `functions/_manifest.ts`, the only
 * form Deno Deploy can load) when it is that folder's, else `<dir>/_manifest.ts` imported from
 * the file system (any other Deno host). Throws `ConfigError` when it cannot be imported.
 */
export async function manifestOf(
  dir: string,
  bundled: FunctionManifest,
): Promise<FunctionManifest> {
  if (bundled.dir === dir) return bundled;
  const url = new URL(`${dir}/${MANIFEST_FILE}`, `file://${Deno.cwd()}/`);
  try {
    const mod = await import(url.href);
    return mod.default as FunctionManifest;
  } catch (error) {
    throw new ConfigError(
      `Invalid config: functions.dir (${dir}): Cannot import ${dir}/${MANIFEST_FILE} ` +
        `(run: deno task functions --dir ${dir}): ${(error as Error).message}`,
    );
  }
}

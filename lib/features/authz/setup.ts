/**
 * Builds the authorization stage from config at start-up: loads the module (once), validates and
 * loads the policy, imports the token keys, and registers the middleware on the protected
 * patterns only. A bad policy stops start-up (ConfigError naming the field); a module that cannot
 * load does not: the node keeps serving, and protected routes answer 503 (or fail open).
 */

import type { Hono, MiddlewareHandler } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { Clock } from "../../core/clock.ts";
import { ConfigError } from "../../platform/config/errors.ts";
import type { EdgeConfig } from "../../core/config.ts";
import { compilePathPatterns, compileRoutePath } from "../../platform/http/path_pattern.ts";
import { HttpError } from "../../platform/http/errors.ts";
import { matchPath } from "../../platform/http/target.ts";
import { effectiveMethod } from "../proxy/headers.ts";
import type { Jobs } from "../../core/jobs.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import { compileActions } from "./actions.ts";
import { Authorizer } from "./authorizer.ts";
import { TokenVerifier } from "./jwt.ts";
import { authorization } from "./middleware.ts";
import { DEFAULT_POLICY, PolicyError } from "./policy.ts";
import { PolicyStore, type PolicyUpdate } from "./policy_store.ts";
import { type RateClass, RateLimiter } from "./rate_limiter.ts";
import { PolicyModule } from "./wasm_module.ts";
import { DEFAULT_WASM_URL } from "./precompile.ts";

export { DEFAULT_WASM_URL };

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const KNOWN_METHODS = new Set(["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]);

/** The development HS256 secret used when `JWT_SECRET` is unset outside production. */
export const DEV_JWT_SECRET = "outpost-development-secret-not-for-production-use";

/** What the authorization stage needs. */
export interface AuthzDeps {
  config: EdgeConfig;
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  jobs: Jobs;
  fetch?: typeof fetch;
  /** `JWT_SECRET`, from the environment only. */
  jwtSecret?: string;
  /** Module bytes (instead of reading `authz.wasm.path`). */
  wasm?: Uint8Array;
  /** `wasm` already compiled (start-up compiles it while KV opens). */
  wasmModule?: WebAssembly.Module;
}

/** The running authorization stage. */
export interface Authz {
  authorizer: Authorizer;
  store: PolicyStore;
  module: PolicyModule | null;
  verifier: TokenVerifier;
  limiter: RateLimiter;
  /** The stage: authorizes protected requests, passes every other one on at once. */
  gate: MiddlewareHandler<AppEnv>;
  /** Adds {@linkcode Authz.gate} to every path of `app` (call before the routes). */
  register(app: Hono<AppEnv>): void;
  /** The secret authorization lacks (protected routes answer 503), or null. */
  missing: string | null;
  /** Whether a request with this method and path is protected (for stages before routing). */
  protects(method: string, path: string): boolean;
  /** Validates and applies a new policy; a bad one is refused and the old one kept. */
  updatePolicy(value: unknown, source?: string): PolicyUpdate;
}

function readText(path: string | URL, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    throw new ConfigError(`Invalid config: ${what}: Cannot read ${path}: ${(e as Error).message}`);
  }
}

function loadModule(deps: AuthzDeps, loadFailures: (reason: string) => void): PolicyModule | null {
  const { wasm } = deps.config.authz;
  const path = wasm.path ?? DEFAULT_WASM_URL;
  try {
    const bytes = deps.wasm ?? Deno.readFileSync(path);
    const module = PolicyModule.load(bytes, wasm, deps.wasm ? deps.wasmModule : undefined);
    deps.log.info("authz module loaded", { path: String(path), memoryBytes: module.memoryBytes });
    return module;
  } catch (error) {
    loadFailures((error as Error).name);
    deps.log.error("authz module failed to load; protected routes will answer 503", {
      path: String(path),
      error,
    });
    return null;
  }
}

/** Builds the stage, or returns null when `authz.enabled` is false. */
export function createAuthz(deps: AuthzDeps): Authz | null {
  const { config, log, metrics } = deps;
  const cfg = config.authz;
  if (!cfg.enabled) return null;
  const overrides: ReadonlySet<string> = new Set(config.proxy.methodOverrideHeaders);

  let secret = deps.jwtSecret;
  // What is missing for authorization to work; protected routes then answer 503 (fail closed).
  let missing: string | null = null;
  if (cfg.jwt.algorithm === "HS256") {
    if (secret === DEV_JWT_SECRET && config.mode === "production") {
      throw new ConfigError(
        "Invalid config: authz.jwt (from JWT_SECRET): The published development secret cannot be used in production",
      );
    }
    if (!secret && config.mode === "production") {
      missing = "JWT_SECRET";
      log.error("JWT_SECRET is not set: protected routes answer 503 until it is", {
        mode: config.mode,
      });
    } else if (!secret) {
      log.warn("JWT_SECRET is not set; using the development secret", { mode: config.mode });
      secret = DEV_JWT_SECRET;
    }
    if (secret && secret.length < 32) {
      throw new ConfigError(
        "Invalid config: authz.jwt (from JWT_SECRET): Must be at least 32 characters",
      );
    }
  }

  const loads = metrics.counter(
    "outpost_authz_policy_loads_total",
    "Policy loads, by outcome (applied, rejected)",
  );
  const loadFailures = metrics.counter(
    "outpost_authz_module_load_failures_total",
    "Times the policy module could not be loaded",
  );
  const module = loadModule(deps, (reason) => loadFailures.inc({ reason }));

  const classes = new Map<string, RateClass>();
  for (const [name, c] of Object.entries(cfg.rateLimit.classes)) {
    classes.set(name, {
      name,
      limit: c.limit,
      windowS: c.windowS,
      windowMs: c.windowS * 1000,
      burst: c.burst ?? c.limit,
    });
  }
  const store = new PolicyStore({
    module,
    classRates: new Map([...classes].map(([n, c]) => [n, c.limit / c.windowS])),
    defaultClass: cfg.rateLimit.defaultClass,
    log,
    loads,
  });
  const what = cfg.policyPath ? `authz.policyPath (${cfg.policyPath})` : "authz.policy";
  const text = cfg.policyPath ? readText(cfg.policyPath, "authz.policyPath") : null;
  try {
    store.apply(text ?? cfg.policy ?? DEFAULT_POLICY, cfg.policyPath ?? "config");
  } catch (e) {
    if (e instanceof PolicyError) throw new ConfigError(`Invalid config: ${what}: ${e.message}`);
    throw e;
  }
  if (text !== null) store.markText(text);

  const verifier = new TokenVerifier({
    jwt: cfg.jwt,
    secret,
    clock: deps.clock,
    fetch: deps.fetch,
    log,
  });
  if (missing === null) {
    verifier.ready().catch((error) => log.error("authz token keys failed to load", { error }));
  }
  const badState = metrics.counter(
    "outpost_authz_ratelimit_bad_state_total",
    "Rate-limit states in KV that were not of the expected shape (treated as empty)",
  );
  const refillErrors = metrics.counter(
    "outpost_authz_ratelimit_refill_errors_total",
    "Background rate-limit refills that failed (requests needing them fail over to KV)",
  );
  const limiter = new RateLimiter({
    kv: deps.kv,
    clock: deps.clock,
    localAllowance: cfg.rateLimit.localAllowance,
    leaseMs: cfg.rateLimit.leaseMs,
    maxLocalKeys: cfg.rateLimit.maxLocalKeys,
    onBadState: (key) => {
      badState.inc();
      log.warn("malformed rate-limit state ignored", { key: key.map(String).slice(0, 3) });
    },
    onRefillError: (error) => {
      refillErrors.inc();
      log.error("background rate-limit refill failed", { error });
    },
  });
  const authorizer = new Authorizer({
    verifier,
    limiter,
    module,
    store,
    resolveAction: compileActions(cfg.actions),
    classes,
    anonymousClass: cfg.rateLimit.anonymousClass,
    allowAnonymous: cfg.allowAnonymous,
    failOpen: compilePathPatterns(cfg.failOpen),
    log,
    metrics: {
      decisions: metrics.counter(
        "outpost_authz_decisions_total",
        "Authorization outcomes (allowed, unauthenticated, forbidden, rate_limited, failed, failed_open)",
      ),
      faults: metrics.counter("outpost_authz_faults_total", "Authorization faults, by kind"),
      moduleCalls: metrics.counter("outpost_authz_module_calls_total", "Calls to authorize()"),
      moduleSeconds: metrics.counter(
        "outpost_authz_module_seconds_total",
        "Time spent in authorize(), seconds",
      ),
      rateChecks: metrics.counter(
        "outpost_authz_ratelimit_checks_total",
        "Rate-limit checks, by path (local allowance or kv)",
      ),
    },
  });

  if (cfg.policyPath) {
    const path = cfg.policyPath;
    deps.jobs.add({
      name: "authz-policy",
      intervalMs: cfg.policyReloadS * 1000,
      async run() {
        store.update(await Deno.readTextFile(path), path);
      },
    });
  }
  if (cfg.jwt.jwksUrl) {
    deps.jobs.add({
      name: "authz-jwks",
      intervalMs: cfg.jwt.jwksRefreshS * 1000,
      run: () => verifier.refreshJwks(),
    });
  }

  const middleware = authorization(authorizer);
  const protectedRoutes = cfg.protect.map((route) => ({
    // Patterns match the lower-cased, parameter-free form of the path (`matchPath`): spelling a
    // path another way can only make it protected, never unprotected.
    matches: compileRoutePath(route.path.toLowerCase()),
    methods: route.methods ? new Set<string>(route.methods) : null,
    // A rule for writes also covers methods the edge does not know (WebDAV, extensions).
    unknownToo: route.methods?.some((m) => !SAFE_METHODS.has(m)) ?? false,
  }));
  function protects(method: string, path: string): boolean {
    const loose = matchPath(path);
    return protectedRoutes.some((r) =>
      (r.methods === null || r.methods.has(method) ||
        (r.unknownToo && !KNOWN_METHODS.has(method))) &&
      r.matches(loose)
    );
  }
  // One gate for every path, deciding on the canonical target (the same path the cache keys
  // and the proxy forwards), rather than router patterns that see another spelling.
  const gate: MiddlewareHandler<AppEnv> = function authorizationGate(c, next) {
    const ctx = c.env.ctx;
    let method = c.req.raw.method;
    try {
      method = effectiveMethod(method, c.req.raw.headers, overrides);
    } catch (error) {
      throw new HttpError(400, (error as Error).message, { code: "invalid_method_override" });
    }
    if (!protects(method, ctx.target.path)) return next();
    if (missing !== null) {
      throw new HttpError(503, `Authorization is not configured: set ${missing}`, {
        code: "authz_not_configured",
      });
    }
    return middleware(c, next, method, matchPath(ctx.target.path));
  };
  return {
    authorizer,
    store,
    module,
    verifier,
    limiter,
    gate,
    register(app) {
      app.use("*", gate);
    },
    protects,
    missing,
    updatePolicy: (value, source = "update") => store.update(value, source),
  };
}

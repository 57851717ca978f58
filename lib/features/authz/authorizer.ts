/**
 * One authorization decision: identity (JWT) → action (method + route) → rate limit (GCRA) →
 * the WebAssembly module's decision. Each stage stays synchronous when it can (a cached token, a
 * local allowance), so an allowed request on a hot path never waits on a promise. Denials are
 * thrown as `HttpError`s (401/403/429); failures of the module or the rate store deny with 503
 * unless the route is configured to fail open, and are logged and counted either way.
 */

import type { EdgeRequestContext } from "../../core/request.ts";
import { HttpError } from "../../platform/http/errors.ts";
import type { PathMatcher } from "../../platform/http/path_pattern.ts";
import type { Logger } from "../../core/log.ts";
import type { Counter } from "../../core/metrics.ts";
import type { ActionResolver } from "./actions.ts";
import { rateLimitHeader, rateLimitPolicyHeader } from "./headers.ts";
import { AuthError, type Identity, IdentityUnavailable } from "./identity.ts";
import type { TokenVerifier } from "./jwt.ts";
import type { RateSubject } from "./keys.ts";
import type { PolicyStore } from "./policy_store.ts";
import type { RateClass, RateDecision, RateLimiter } from "./rate_limiter.ts";
import { type DecisionInput, ModuleFault, type PolicyModule } from "./wasm_module.ts";

/** Paths longer than this are refused before any other work. */
const MAX_PATH_LENGTH = 2048;
const CODE = /^[a-z0-9_]{1,64}$/;
const COUNTRY = /^[A-Z]{2}$/;

/** Counters the authorizer records into. */
export interface AuthzMetrics {
  decisions: Counter;
  faults: Counter;
  moduleCalls: Counter;
  moduleSeconds: Counter;
  rateChecks: Counter;
}

/** Options for {@linkcode Authorizer}. */
export interface AuthorizerOptions {
  verifier: TokenVerifier;
  limiter: RateLimiter;
  /** Null when the module failed to load: every decision is then a fault. */
  module: PolicyModule | null;
  store: PolicyStore;
  resolveAction: ActionResolver;
  classes: ReadonlyMap<string, RateClass>;
  anonymousClass: string;
  allowAnonymous: boolean;
  failOpen: PathMatcher;
  log: Logger;
  metrics: AuthzMetrics;
}

/** An allowed request. */
export interface Grant {
  userId: string | null;
  roles: readonly string[];
  action: string;
  rateClass: RateClass;
  /** Null when the rate store failed and the route fails open. */
  rate: RateDecision | null;
  /** True when a fault was let through because the route fails open. */
  failedOpen: boolean;
  /** Time spent in the module, ms. */
  moduleMs: number;
}

const ANONYMOUS_ROLES: readonly string[] = ["anonymous"];

interface Pending {
  path: string;
  action: string;
  ctx: EdgeRequestContext;
  id: Identity | null;
  cls: RateClass;
}

/** Decides requests to protected routes. */
export class Authorizer {
  readonly #o: AuthorizerOptions;

  constructor(options: AuthorizerOptions) {
    this.#o = options;
  }

  /** The `RateLimit-Policy` / `RateLimit` headers for a grant or a limiter answer. */
  rateHeaders(cls: RateClass, rate: RateDecision | null): Record<string, string> {
    const headers: Record<string, string> = {
      "ratelimit-policy": rateLimitPolicyHeader(cls.name, cls.limit, cls.windowS),
    };
    if (rate !== null) headers.ratelimit = rateLimitHeader(cls.name, rate.remaining, rate.resetS);
    return headers;
  }

  /**
   * Authorizes a request for `path` (the form protection patterns match) and `method` (the
   * request's, or the method it overrides to); throws `HttpError` for every refusal.
   */
  check(
    req: Request,
    path: string,
    ctx: EdgeRequestContext,
    method: string = req.method,
  ): Grant | Promise<Grant> {
    if (path.length > MAX_PATH_LENGTH) {
      throw new HttpError(414, `Path longer than ${MAX_PATH_LENGTH} characters`, {
        code: "uri_too_long",
      });
    }
    const action = this.#o.resolveAction(method, path);
    if (action === null) {
      throw new HttpError(405, `No action for method: ${method.slice(0, 20)}`, {
        code: "method_not_allowed",
      });
    }
    const header = req.headers.get("authorization");
    let id: Identity | Promise<Identity> | null = null;
    if (header !== null || !this.#o.allowAnonymous) {
      try {
        id = this.#o.verifier.verify(header);
      } catch (e) {
        throw this.#identityError(e, path);
      }
    }
    if (id instanceof Promise) {
      return id.then(
        (v) => this.#afterIdentity(v, path, action, ctx),
        (e) => {
          throw this.#identityError(e, path);
        },
      );
    }
    return this.#afterIdentity(id, path, action, ctx);
  }

  #identityError(e: unknown, path: string): HttpError {
    if (e instanceof AuthError) {
      this.#o.metrics.decisions.inc({ outcome: "unauthenticated" });
      const challenge = e.kind === "missing"
        ? 'Bearer realm="outpost"'
        : `Bearer realm="outpost", error="invalid_token", error_description="${e.message}"`;
      return new HttpError(401, e.message, {
        code: e.kind === "missing" ? "unauthenticated" : "invalid_token",
        headers: { "www-authenticate": challenge },
      });
    }
    const kind = e instanceof IdentityUnavailable ? "identity" : "identity_error";
    this.#o.metrics.faults.inc({ kind });
    this.#o.metrics.decisions.inc({ outcome: "failed" });
    this.#o.log.error("authz identity check failed", { kind, path: path.slice(0, 200), error: e });
    return new HttpError(503, "Authorization is unavailable", {
      code: "authz_unavailable",
      headers: { "retry-after": "5" },
    });
  }

  #afterIdentity(
    id: Identity | null,
    path: string,
    action: string,
    ctx: EdgeRequestContext,
  ): Grant | Promise<Grant> {
    const o = this.#o;
    const clsName = id === null ? o.anonymousClass : o.store.rateClassOf(id.roles);
    const cls = o.classes.get(clsName)!;
    const subject: RateSubject = id === null
      ? { kind: "ip", id: ctx.clientIp ?? "unknown" }
      : { kind: "user", id: id.userId };
    const p: Pending = { path, action, ctx, id, cls };
    let rate: RateDecision | Promise<RateDecision>;
    try {
      rate = o.limiter.take(cls, subject);
    } catch (e) {
      return this.#rateFault(p, e);
    }
    if (rate instanceof Promise) {
      return rate.then((r) => {
        o.metrics.rateChecks.inc({ path: "kv" });
        return this.#decide(p, r);
      }, (e) => this.#rateFault(p, e));
    }
    o.metrics.rateChecks.inc({ path: "local" });
    return this.#decide(p, rate);
  }

  #rateFault(p: Pending, e: unknown): Grant {
    this.#fault("rate_store", e, p.path);
    // Failing open skips the limit, not the policy.
    return this.#decide(p, null);
  }

  #decide(p: Pending, rate: RateDecision | null): Grant {
    const o = this.#o;
    const roles = p.id?.roles ?? ANONYMOUS_ROLES;
    const country = p.ctx.geo.country;
    const input: DecisionInput = {
      user_id: p.id?.userId ?? null,
      roles: roles as string[],
      action: p.action,
      resource: p.path,
      country: country !== null && COUNTRY.test(country) ? country : null,
      rate: rate === null ? { remaining: p.cls.burst, limit: p.cls.limit, reset_s: 0 } : {
        remaining: rate.allowed ? rate.remaining : -1,
        limit: rate.limit,
        reset_s: rate.resetS,
      },
    };
    const grant: Grant = {
      userId: input.user_id,
      roles,
      action: p.action,
      rateClass: p.cls,
      rate,
      failedOpen: rate === null,
      moduleMs: 0,
    };
    if (o.module === null) {
      return this.#moduleFault(grant, p, new ModuleFault("unavailable", "Module not loaded"));
    }
    const started = performance.now();
    let d;
    try {
      d = o.module.authorize(input);
    } catch (e) {
      return this.#moduleFault(grant, p, e);
    } finally {
      grant.moduleMs = performance.now() - started;
      o.metrics.moduleCalls.inc();
      o.metrics.moduleSeconds.inc(undefined, grant.moduleMs / 1000);
    }
    if (d.allowed) {
      o.metrics.decisions.inc({ outcome: grant.failedOpen ? "failed_open" : "allowed" });
      return grant;
    }
    const code = CODE.test(d.code) ? d.code : undefined;
    const reason = d.reason.slice(0, 500) || "Denied by policy";
    const headers = this.rateHeaders(p.cls, rate);
    if (d.status === 403) {
      o.metrics.decisions.inc({ outcome: "forbidden" });
      throw new HttpError(403, reason, { code: code ?? "forbidden", headers });
    }
    if (d.status === 429) {
      o.metrics.decisions.inc({ outcome: "rate_limited" });
      headers["retry-after"] = String(rate?.retryAfterS || Math.max(1, rate?.resetS ?? 1));
      throw new HttpError(429, reason, { code: code ?? "rate_limited", headers });
    }
    const fault = new ModuleFault("malformed", `Module denied with status ${d.status}: ${reason}`);
    return this.#moduleFault(grant, p, fault);
  }

  #moduleFault(grant: Grant, p: Pending, e: unknown): Grant {
    const kind = e instanceof ModuleFault ? e.kind : "malformed";
    this.#fault(kind, e, p.path);
    if (grant.rate !== null && !grant.rate.allowed) {
      // The host knows this one is over its limit whatever the module would have said.
      this.#o.metrics.decisions.inc({ outcome: "rate_limited" });
      throw new HttpError(429, "Rate limit exceeded", {
        code: "rate_limited",
        headers: {
          ...this.rateHeaders(p.cls, grant.rate),
          "retry-after": String(grant.rate.retryAfterS),
        },
      });
    }
    this.#o.metrics.decisions.inc({ outcome: "failed_open" });
    return { ...grant, failedOpen: true };
  }

  /** Logs and counts a fault; throws 503 unless the path fails open. */
  #fault(kind: string, e: unknown, path: string): void {
    const open = this.#o.failOpen(path);
    this.#o.metrics.faults.inc({ kind });
    this.#o.log.error("authz fault", {
      kind,
      path: path.slice(0, 200),
      failOpen: open,
      error: e,
    });
    if (!open) {
      this.#o.metrics.decisions.inc({ outcome: "failed" });
      throw new HttpError(503, "Authorization is unavailable; try again shortly", {
        code: "authz_unavailable",
        headers: { "retry-after": "5" },
      });
    }
  }
}

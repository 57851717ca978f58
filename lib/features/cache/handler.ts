/**
 * Answering GET/HEAD on cached paths once the fast path could not: lookup in both tiers, the
 * freshness decision, stale-while-revalidate in the background, and collapsed fills whose
 * results become responses (or stale-if-error answers).
 */

import type { Context, Next } from "hono";
import type { AppEnv, EdgeRequestContext } from "../../core/request.ts";
import type { Clock } from "../../core/clock.ts";
import { HttpError } from "../../platform/http/errors.ts";
import { parseRequestDirectives, type RequestDirectives } from "./directives.ts";
import { ERROR_STATUSES, type Filler, type FillResult, type FillTarget } from "./fill.ts";
import type { Flights } from "./flight.ts";
import { currentAge, decide, type Decision, storagePolicy } from "./freshness.ts";
import { varyValues } from "./key.ts";
import type { Lookup, Lookups } from "./lookup.ts";
import { type MemoryItem, variantKey } from "./memory.ts";
import type { CachePolicy, CompiledRoute } from "./policy.ts";
import { PassMarks } from "./pass.ts";
import type { Representations } from "./represent.ts";
import { answer, type BodyTransform, type CacheOutcome, markPassThrough } from "./respond.ts";
import { denoCdnValue, fwdReason, fwdStatus, hitStatus, wholeSeconds } from "./serve.ts";
import type { CacheStats } from "./stats.ts";

/** Sends a cache-made request to the origin (the proxy's `forwardToOrigin`). */
export type CacheForward = (
  c: Context<AppEnv>,
  request: Request,
  completed: Promise<void>,
) => Promise<Response>;

/** Collaborators of a {@linkcode CacheHandler}. */
export interface CacheHandlerOptions {
  policy: CachePolicy;
  stats: CacheStats;
  clock: Clock;
  filler: Filler;
  flights: Flights<FillResult>;
  lookups: Lookups;
  forward: CacheForward;
  /** Which representation (content coding) each client gets. */
  reps: Representations;
  /** URLs that answered uncacheable a moment ago (hit-for-pass). */
  passes: PassMarks;
  /** The variant headers of the A/B experiments at a path (see `EdgeCacheOptions`). */
  experimentHeaders: (path: string) => readonly string[];
  /** Tracks work that outlives the request. */
  track(task: Promise<unknown>): void;
}

/**
 * Resolves the request's lazy facts (peer address, location) now: a fill can outlive the client's
 * request (background revalidation, a leader whose client left), and Deno refuses to read the
 * peer address of a closed request.
 */
function pinRequestFacts(c: Context<AppEnv>): void {
  const ctx = c.env.ctx;
  void ctx.peerTrusted;
  void ctx.clientProto;
  void ctx.geo.ranked();
}

/**
 * The request with the experiment variants the edge assigned in the named headers (replacing any
 * the client sent), or null when one was not assigned.
 */
function withVariants(
  req: Request,
  names: readonly string[],
  assigned: Record<string, string>,
): Request | null {
  const headers = new Headers(req.headers);
  for (const name of names) {
    const variant = assigned[name];
    if (variant === undefined) return null;
    headers.set(name, variant);
  }
  return new Request(req, { headers });
}

/** The 504 of an `only-if-cached` request with nothing to serve (RFC 9111 §5.2.1.7). */
function notCached(): HttpError {
  return new HttpError(504, "The response is not in the cache (only-if-cached)", {
    code: "not_cached",
    headers: { "x-cache": "MISS", "cache-status": "Outpost; detail=only-if-cached" },
  });
}

/**
 * Marks the response the rest of the chain produced, in place when its fields can change: Hono's
 * `c.res` setter copies the response and every field again, so it is used only for a copy.
 */
function markContext(c: Context<AppEnv>, outcome: CacheOutcome, cacheStatus: string): Response {
  const res = markPassThrough(c.res, outcome, cacheStatus);
  if (res !== c.res) c.res = res;
  return res;
}

/** A request passed by hit-for-pass, for {@linkcode CacheHandler.passed}. */
export interface PassedRequest {
  urlKey: string;
  route: CompiledRoute;
  /** When it was sent (the cache's clock). */
  requestTime: number;
  /** Whether it carried `Authorization` (storage rules differ). */
  authorization: boolean;
  ctx: EdgeRequestContext;
}

/** True when the item's Vary covers every one of `names` (lower-case). */
function variesOn(item: MemoryItem, names: readonly string[]): boolean {
  return names.every((name) => item.entry.vary.includes(name));
}

/** The slow path of the cache. */
export class CacheHandler {
  readonly #o: CacheHandlerOptions;

  constructor(options: CacheHandlerOptions) {
    this.#o = options;
  }

  /** Answers a GET/HEAD on a cached path. */
  async handle(c: Context<AppEnv>, next: Next, path: string): Promise<Response> {
    let req = c.req.raw;
    const ctx = c.env.ctx;
    const route = this.#o.policy.route(path);
    const head = req.method === "HEAD";
    // Under an A/B experiment, entries are kept per variant: the variant headers the edge tells
    // the origin act as request headers the response varies on (see `withVariants`).
    const experiment = this.#o.experimentHeaders(path);
    let edgeVary: string[] | null = null;
    if (experiment.length > 0) {
      const assigned = withVariants(req, experiment, ctx.originHeaders);
      if (assigned === null) return await this.#bypass(c, next, "experiment");
      req = assigned;
      edgeVary = experiment.map((name) => name.toLowerCase());
    }
    const headers = req.headers;
    const urlKey = route.bypass ? null : route.key(ctx.href, req);
    // A custom key function returns null for requests it does not want cached.
    if (urlKey === null) return await this.#bypass(c, next, route.bypass ? "route" : "key");
    const dirs = parseRequestDirectives(headers.get("cache-control"), headers.get("pragma"));
    if (this.#o.passes.has(urlKey, this.#o.clock.now())) {
      if (dirs.onlyIfCached) throw notCached();
      return await this.#hitForPass(c, next, urlKey, route);
    }
    const alone = headers.has("authorization");
    let found = await this.#o.lookups.find(urlKey, headers);
    // An entry stored before the experiment began is not any variant's.
    if (edgeVary !== null && found.item !== null && !variesOn(found.item, edgeVary)) {
      found = { item: null, variant: null };
    }
    let decision: Decision | null = null;
    if (found.item !== null && (!alone || found.item.entry.timing.authOk)) {
      decision = decide(found.item.entry.timing, this.#o.clock.now(), dirs);
      if (decision.action === "hit") {
        const loading = this.#o.reps.ready(
          found.item,
          headers.get("accept-encoding"),
          headers.has("range"),
        );
        if (loading !== null) await loading;
        const hit = this.serveHit(found.item, decision, route, head, headers, edgeVary === null);
        // `no-transform` and a coding this client cannot take: only the origin can answer it.
        if (hit === null) return await this.#bypass(c, next, "no-transform");
        ctx.cacheOutcome = "HIT";
        this.#o.stats.served("HIT");
        return hit;
      }
      if (decision.action === "stale") {
        this.#revalidateInBackground(c, req, urlKey, found, route, edgeVary);
        return this.#serveStale(c, found.item, decision, head, decision.detail);
      }
    } else found.item = null;
    // A range of a stored response is cut from it (fresh or stale-while-revalidate); any other
    // range request goes to the origin as it is, rather than fetching a whole body to cut.
    if (headers.has("range")) return await this.#bypass(c, next, "range");
    if (dirs.onlyIfCached) throw notCached();
    if (dirs.noStore) return await this.#bypass(c, next, "no-store");
    return await this.#fill(c, next, {
      req,
      urlKey,
      found,
      decision,
      dirs,
      route,
      alone,
      edgeVary,
    });
  }

  async #fill(
    c: Context<AppEnv>,
    next: Next,
    f: {
      /** The request as the origin sees it (with the variant headers of an experiment). */
      req: Request;
      urlKey: string;
      found: Lookup;
      decision: Decision | null;
      dirs: RequestDirectives;
      route: CompiledRoute;
      alone: boolean;
      edgeVary: string[] | null;
    },
  ): Promise<Response> {
    const req = f.req;
    const head = req.method === "HEAD";
    const { found, decision } = f;
    const target: FillTarget = {
      urlKey: f.urlKey,
      variant: found.variant,
      stale: found.item,
      rules: f.route.rules,
      mode: found.item ? "revalidate" : "miss",
      // Another node's copy is only as good as a hit: not for validation requests nor for
      // requests with Authorization (it may not be usable for them).
      acceptRemote: !f.alone && !f.dirs.noCache && f.dirs.maxAge === undefined &&
        f.dirs.minFresh === undefined,
      edgeVary: f.edgeVary ?? undefined,
    };
    const memKey = variantKey(f.urlKey, found.variant ?? "");
    pinRequestFacts(c);
    let result: FillResult;
    let leader = true;
    try {
      const start = () =>
        this.#o.filler.fill(target, req, (r, done) => this.#o.forward(c, r, done));
      const waitFrom = performance.now();
      ({ result, leader } = f.alone
        ? { result: await start(), leader: true }
        : await this.#o.flights.run(memKey, start));
      // A waiter waited for the leader's origin request (the leader's own wait is its forward's).
      if (!leader) c.env.ctx.originWaitMs += performance.now() - waitFrom;
      if (leader) this.#o.stats.filled(target.mode, result);
    } catch (error) {
      if (found.item && decision?.staleIfError) {
        const status = error instanceof HttpError ? error.status : null;
        this.#o.stats.staleIfError();
        return this.#serveStale(c, found.item, decision, head, "stale-if-error", status);
      }
      throw error;
    }
    const fwd = fwdReason(decision);
    if (result.kind === "entry") {
      const item = result.item;
      const mismatch = item.entry.vary.length > 0 &&
        item.entry.variant !== varyValues(item.entry.vary, (n) => req.headers.get(n));
      if (!mismatch) {
        const now = this.#o.clock.now();
        const ttlMs = item.entry.timing.responseTime - item.entry.timing.initialAgeMs +
          item.entry.timing.freshMs - now;
        const outcome: CacheOutcome = result.outcome;
        c.env.ctx.cacheOutcome = outcome;
        this.#o.stats.served(outcome);
        const status = fwdStatus(result.fwdStatus === null ? "miss" : fwd, {
          status: result.fwdStatus,
          stored: result.stored,
          collapsed: !leader || result.fwdStatus === null,
          ttlMs,
        });
        const acceptEncoding = req.headers.get("accept-encoding");
        const range = req.headers.has("range");
        const loading = this.#o.reps.ready(item, acceptEncoding, range);
        if (loading !== null) await loading;
        const picked = this.#o.reps.pick(item, acceptEncoding, range);
        if (picked.kind === "unacceptable") return await this.#alone(c, next, fwd, "MISS");
        const res = answer(picked.item, head, req.headers, {
          ageSeconds: wholeSeconds(currentAge(item.entry.timing, now)),
          cacheStatus: status,
          outcome,
          // Deno's CDN cannot tell variants apart: an experiment's pages are not shared there.
          cdn: result.stored && f.edgeVary === null
            ? denoCdnValue(f.route.denoCdn, item, ttlMs)
            : null,
          transforms: picked.kind === "stream" ? picked.transforms : undefined,
        });
        if (leader) {
          for (const cookie of result.cookies) res.headers.append("set-cookie", cookie);
          const upstream = c.env.ctx.upstream;
          if (upstream && result.fwdStatus !== null) {
            res.headers.append("x-upstream-region", upstream.region);
          }
        }
        return res;
      }
      return await this.#alone(c, next, "vary-miss", "MISS");
    }
    if (result.kind === "pass") {
      if (leader && PassMarks.marks(result.reason)) {
        this.#o.passes.mark(f.urlKey, this.#o.clock.now());
      }
      const stale = found.item && decision?.staleIfError && ERROR_STATUSES.has(result.status);
      if (stale) {
        if (leader) {
          await result.response.body?.cancel().catch(() => {});
          result.release();
        }
        this.#o.stats.staleIfError();
        return this.#serveStale(c, found.item!, decision!, head, "stale-if-error", result.status);
      }
      if (!leader) return await this.#alone(c, next, fwd, "MISS");
      const completed = c.env.completed ?? Promise.resolve();
      completed.then(result.release, result.release);
      let res = result.response;
      if (head && res.body) {
        await res.body.cancel().catch(() => {});
        res = new Response(null, res);
      }
      c.env.ctx.cacheOutcome = "MISS";
      this.#o.stats.served("MISS");
      return markPassThrough(
        res,
        "MISS",
        fwdStatus(fwd, { status: result.status, detail: result.reason }),
      );
    }
    return await this.#alone(c, next, fwd, "MISS");
  }

  /** Forwards without the cache (a waiter whose leader's response could not be shared). */
  async #alone(
    c: Context<AppEnv>,
    next: Next,
    fwd: "miss" | "stale" | "request" | "vary-miss",
    outcome: CacheOutcome,
  ): Promise<Response> {
    await next();
    c.env.ctx.cacheOutcome = outcome;
    this.#o.stats.served(outcome);
    return markContext(c, outcome, fwdStatus(fwd, { status: c.res.status }));
  }

  /**
   * Straight to the origin for a URL marked hit-for-pass. The answer renews the mark while it
   * stays uncacheable and lifts it as soon as it could be stored (the next request fills).
   */
  async #hitForPass(
    c: Context<AppEnv>,
    next: Next,
    urlKey: string,
    route: CompiledRoute,
  ): Promise<Response> {
    const requestTime = this.#o.clock.now();
    await next();
    const res = this.passed(c.res, {
      urlKey,
      route,
      requestTime,
      authorization: c.req.raw.headers.has("authorization"),
      ctx: c.env.ctx,
    });
    if (res !== c.res) c.res = res; // Hono's setter copies: only for a copy (see markContext)
    return res;
  }

  /**
   * The origin's answer to a hit-for-pass request (routed, or from the app's fast path): renews
   * or lifts the URL's mark, counts it, and marks the response `BYPASS` (in place when its fields
   * can change).
   */
  passed(res: Response, pass: PassedRequest): Response {
    const clock = this.#o.clock;
    const policy = storagePolicy({
      status: res.status,
      headers: res.headers,
      authorization: pass.authorization,
      requestTime: pass.requestTime,
      responseTime: clock.now(),
    }, pass.route.rules);
    if (policy.store) this.#o.passes.forget(pass.urlKey);
    else if (PassMarks.marks(policy.reason)) this.#o.passes.mark(pass.urlKey, clock.now());
    this.#o.stats.passed();
    pass.ctx.cacheOutcome = "BYPASS";
    this.#o.stats.served("BYPASS");
    return markPassThrough(
      res,
      "BYPASS",
      fwdStatus("bypass", { status: res.status, detail: "hit-for-pass" }),
    );
  }

  async #bypass(c: Context<AppEnv>, next: Next, detail: string): Promise<Response> {
    await next();
    c.env.ctx.cacheOutcome = "BYPASS";
    this.#o.stats.served("BYPASS");
    return markContext(c, "BYPASS", fwdStatus("bypass", { detail }));
  }

  /**
   * A fresh hit (also used by the fast path); null when the stored response cannot be made into
   * anything this client accepts (`no-transform`).
   */
  serveHit(
    item: MemoryItem,
    decision: Decision,
    route: CompiledRoute,
    head: boolean,
    headers: Headers,
    /** False for an experiment's variant (never offered to Deno's CDN). */
    shareable = true,
  ): Response | null {
    // Callers await `reps.ready()` first (the fast path leaves such a request to the slow one).
    const picked = this.#o.reps.pick(item, headers.get("accept-encoding"), headers.has("range"));
    if (picked.kind === "unacceptable") return null;
    return answer(picked.item, head, headers, {
      ageSeconds: wholeSeconds(decision.ageMs),
      cacheStatus: hitStatus(decision.ttlMs),
      outcome: "HIT",
      cdn: shareable ? denoCdnValue(route.denoCdn, item, decision.ttlMs) : null,
      transforms: picked.kind === "stream" ? picked.transforms : undefined,
    });
  }

  async #serveStale(
    c: Context<AppEnv>,
    item: MemoryItem,
    decision: Decision,
    head: boolean,
    detail: string,
    status: number | null = null,
  ): Promise<Response> {
    c.env.ctx.cacheOutcome = "STALE";
    if (detail !== "stale-if-error") this.#o.stats.served("STALE");
    const cacheStatus = detail === "stale-if-error"
      ? fwdStatus("stale", { status, ttlMs: decision.ttlMs, detail })
      : hitStatus(decision.ttlMs, detail === "swr" ? "stale-while-revalidate" : detail);
    const headers = c.req.raw.headers;
    const loading = this.#o.reps.ready(item, headers.get("accept-encoding"), headers.has("range"));
    if (loading !== null) await loading;
    const picked = this.#o.reps.pick(item, headers.get("accept-encoding"), headers.has("range"));
    // A stale answer is a fallback: with nothing better, the stored body as it is.
    const rep = picked.kind === "unacceptable" ? item : picked.item;
    const transforms: BodyTransform[] | undefined = picked.kind === "stream"
      ? picked.transforms
      : undefined;
    return answer(rep, head, headers, {
      ageSeconds: wholeSeconds(currentAge(item.entry.timing, this.#o.clock.now())),
      cacheStatus,
      outcome: "STALE",
      cdn: null,
      transforms,
    });
  }

  #revalidateInBackground(
    c: Context<AppEnv>,
    req: Request,
    urlKey: string,
    found: Lookup,
    route: CompiledRoute,
    edgeVary: string[] | null,
  ): void {
    const target: FillTarget = {
      urlKey,
      variant: found.variant,
      stale: found.item,
      rules: route.rules,
      mode: "background",
      acceptRemote: false,
      edgeVary: edgeVary ?? undefined,
    };
    pinRequestFacts(c);
    const run = this.#o.flights.start(
      variantKey(urlKey, found.variant ?? ""),
      () => this.#o.filler.fill(target, req, (r, done) => this.#o.forward(c, r, done)),
    );
    if (run === null) return;
    this.#o.track(
      run.then(async (result) => {
        this.#o.stats.filled("background", result);
        if (result.kind === "pass") {
          if (PassMarks.marks(result.reason)) this.#o.passes.mark(urlKey, this.#o.clock.now());
          await result.response.body?.cancel().catch(() => {});
          result.release();
        }
      }).catch((error) => this.#o.stats.backgroundFailed(urlKey, error)),
    );
  }
}

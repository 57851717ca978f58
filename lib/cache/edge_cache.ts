/**
 * The SWR edge cache in front of the origins. Fresh memory hits are answered synchronously before
 * routing ({@linkcode EdgeCache.fastHit}); everything else goes through {@linkcode EdgeCache.handle}:
 * memory, then KV, then one collapsed fill from the origin per key.
 */

import type { Context, Next } from "hono";
import type { AppEnv, EdgeRequestContext } from "../app_env.ts";
import type { Clock } from "../clock.ts";
import { HttpError } from "../http/errors.ts";
import type { PathMatcher } from "../http/path_pattern.ts";
import type { Logger } from "../log.ts";
import type { MetricsRegistry } from "../metrics/registry.ts";
import type { CacheConfig } from "./config.ts";
import {
  NO_REQUEST_DIRECTIVES,
  parseRequestDirectives,
  type RequestDirectives,
} from "./directives.ts";
import { ERROR_STATUSES, Filler, type FillResult, type FillTarget } from "./fill.ts";
import { currentAge, decide, type Decision, isRetained } from "./freshness.ts";
import { varyValues } from "./key.ts";
import { kvSlot } from "./keys.ts";
import { KvStore } from "./kv_store.ts";
import { type MemoryItem, MemoryTier, variantKey } from "./memory.ts";
import { CachePolicy, type CompiledRoute, pathOf } from "./policy.ts";
import { Purger, type PurgeSummary } from "./purge.ts";
import { type CacheOutcome, markPassThrough, notModified, serveItem } from "./respond.ts";
import { denoCdnValue, fwdReason, fwdStatus, hitStatus, wholeSeconds } from "./serve.ts";
import { CacheStats } from "./stats.ts";
import { invalidateAfterUnsafe } from "./invalidate.ts";

/** Sends a cache-made request to the origin (the proxy's `forwardToOrigin`). */
export type CacheForward = (
  c: Context<AppEnv>,
  request: Request,
  completed: Promise<void>,
) => Promise<Response>;

/** Collaborators of the {@linkcode EdgeCache}. */
export interface EdgeCacheOptions {
  config: CacheConfig;
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  region: string;
  /** Paths under an A/B experiment: their requests must pass the experiment before a hit. */
  experimentPaths: PathMatcher;
  forward: CacheForward;
}

interface Lookup {
  item: MemoryItem | null;
  /** The Vary values of this request when the URL's Vary is known, else null. */
  variant: string | null;
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

/** The cache. */
export class EdgeCache {
  readonly policy: CachePolicy;
  readonly memory: MemoryTier;
  readonly store: KvStore;
  readonly purger: Purger;
  readonly stats: CacheStats;
  readonly #o: EdgeCacheOptions;
  readonly #filler: Filler;
  readonly #flights = new Map<string, Promise<FillResult>>();
  readonly #background = new Set<Promise<unknown>>();

  constructor(options: EdgeCacheOptions) {
    this.#o = options;
    const { config, kv, clock, log, metrics } = options;
    this.policy = new CachePolicy(config);
    this.memory = new MemoryTier({
      maxBytes: config.memoryBytes,
      maxEntryBytes: config.memoryBytes / 4,
    });
    this.stats = new CacheStats(metrics, this.memory, log);
    this.store = new KvStore(kv, { onInvalid: (key, reason) => this.stats.invalidKv(key, reason) });
    this.#filler = new Filler({
      store: this.store,
      memory: this.memory,
      clock,
      leaseMs: config.leaseMs,
      maxBodyBytes: config.maxBodyBytes,
      holder: `${options.region}-${crypto.randomUUID().slice(0, 8)}`,
      kvError: (op, error) => this.stats.kvError(op, error),
      background: (task) => this.#track(task),
    });
    this.purger = new Purger({
      kv,
      store: this.store,
      memory: this.memory,
      clock,
      log,
      region: options.region,
      onReplay: (records, dropped) => this.stats.replayed(records, dropped),
    });
  }

  /**
   * A fresh memory hit answered without routing or promises, or null (the request then takes the
   * normal way). Only for GET/HEAD on cached paths without an experiment, and only when the
   * request's own Cache-Control, validators and `Authorization` allow a plain hit.
   */
  fastHit(req: Request, ctx: EdgeRequestContext): Response | null {
    if (this.memory.count === 0) return null;
    const url = req.url;
    const path = pathOf(url);
    if (!this.policy.handles(path) || this.#o.experimentPaths(path)) return null;
    const route = this.policy.route(path);
    if (route.bypass || !route.plainKey) return null;
    const key = route.key(url, req);
    if (key === null) return null;
    let found = this.memory.get(key);
    if (found === undefined) return null;
    const headers = req.headers;
    if (found.kind === "vary") {
      found = this.memory.get(variantKey(key, varyValues(found.vary, (n) => headers.get(n))));
      if (found?.kind !== "entry") return null;
    }
    if (headers.has("range")) return null;
    const timing = found.entry.timing;
    if (!timing.authOk && headers.has("authorization")) return null;
    const cc = headers.get("cache-control");
    const pragma = cc === null ? headers.get("pragma") : null;
    const dirs = cc === null && pragma === null
      ? NO_REQUEST_DIRECTIVES
      : parseRequestDirectives(cc, pragma);
    const decision = decide(timing, this.#o.clock.now(), dirs);
    if (decision.action !== "hit") return null;
    ctx.cacheOutcome = "HIT";
    this.stats.served("HIT");
    return this.#serveHit(found, decision, route, req.method === "HEAD", headers);
  }

  /** The Hono middleware for the main app (after A/B assignment, before the origin proxy). */
  middleware(): (c: Context<AppEnv>, next: Next) => Promise<Response | void> {
    const policy = this.policy;
    const invalidate = (keys: string[]) => this.invalidate(keys);
    const handle = (c: Context<AppEnv>, next: Next, path: string) => this.handle(c, next, path);
    return async function edgeCache(c, next) {
      const req = c.req.raw;
      const method = req.method;
      if (method !== "GET" && method !== "HEAD") {
        await next();
        await invalidateAfterUnsafe(c, policy, invalidate);
        return;
      }
      const path = pathOf(req.url);
      if (!policy.handles(path)) return await next();
      return await handle(c, next, path);
    };
  }

  /** Answers a GET/HEAD on a cached path. */
  async handle(c: Context<AppEnv>, next: Next, path: string): Promise<Response> {
    const req = c.req.raw;
    const headers = req.headers;
    const ctx = c.env.ctx;
    const route = this.policy.route(path);
    const head = req.method === "HEAD";
    // Paths under an A/B experiment are not cached: variants would share entries.
    if (this.#o.experimentPaths(path)) return await this.#bypass(c, next, "experiment");
    const urlKey = route.bypass || headers.has("range") ? null : route.key(req.url, req);
    if (urlKey === null) return await this.#bypass(c, next, route.bypass ? "route" : "range");
    const dirs = parseRequestDirectives(headers.get("cache-control"), headers.get("pragma"));
    const alone = headers.has("authorization");
    const found = await this.#lookup(urlKey, headers);
    let decision: Decision | null = null;
    if (found.item !== null && (!alone || found.item.entry.timing.authOk)) {
      decision = decide(found.item.entry.timing, this.#o.clock.now(), dirs);
      if (decision.action === "hit") {
        ctx.cacheOutcome = "HIT";
        this.stats.served("HIT");
        return this.#serveHit(found.item, decision, route, head, headers);
      }
      if (decision.action === "stale") {
        this.#revalidateInBackground(c, urlKey, found, route);
        return this.#serveStale(c, found.item, decision, head, decision.detail);
      }
    } else found.item = null;
    if (dirs.onlyIfCached) {
      throw new HttpError(504, "The response is not in the cache (only-if-cached)", {
        code: "not_cached",
        headers: { "x-cache": "MISS", "cache-status": "Outpost; detail=only-if-cached" },
      });
    }
    if (dirs.noStore) return await this.#bypass(c, next, "no-store");
    return await this.#fill(c, next, { urlKey, found, decision, dirs, route, alone });
  }

  async #fill(
    c: Context<AppEnv>,
    next: Next,
    f: {
      urlKey: string;
      found: Lookup;
      decision: Decision | null;
      dirs: RequestDirectives;
      route: CompiledRoute;
      alone: boolean;
    },
  ): Promise<Response> {
    const req = c.req.raw;
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
    };
    const memKey = variantKey(f.urlKey, found.variant ?? "");
    pinRequestFacts(c);
    let result: FillResult;
    let leader = true;
    try {
      const existing = f.alone ? undefined : this.#flights.get(memKey);
      if (existing) {
        leader = false;
        result = await existing;
      } else {
        const run = this.#filler.fill(target, req, (r, done) => this.#o.forward(c, r, done));
        if (!f.alone) this.#flights.set(memKey, run);
        try {
          result = await run;
        } finally {
          if (this.#flights.get(memKey) === run) this.#flights.delete(memKey);
        }
        this.stats.filled(target.mode, result);
      }
    } catch (error) {
      if (found.item && decision?.staleIfError) {
        const status = error instanceof HttpError ? error.status : null;
        this.stats.staleIfError();
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
        this.stats.served(outcome);
        const status = fwdStatus(result.fwdStatus === null ? "miss" : fwd, {
          status: result.fwdStatus,
          stored: result.stored,
          collapsed: !leader || result.fwdStatus === null,
          ttlMs,
        });
        const res = this.#respond(item, head, req.headers, {
          cacheStatus: status,
          outcome,
          cdn: result.stored ? denoCdnValue(f.route.denoCdn, item, ttlMs) : null,
          now,
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
      const stale = found.item && decision?.staleIfError && ERROR_STATUSES.has(result.status);
      if (stale) {
        if (leader) {
          await result.response.body?.cancel().catch(() => {});
          result.release();
        }
        this.stats.staleIfError();
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
      this.stats.served("MISS");
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
    this.stats.served(outcome);
    c.res = markPassThrough(c.res, outcome, fwdStatus(fwd, { status: c.res.status }));
    return c.res;
  }

  async #bypass(c: Context<AppEnv>, next: Next, detail: string): Promise<Response> {
    await next();
    c.env.ctx.cacheOutcome = "BYPASS";
    this.stats.served("BYPASS");
    c.res = markPassThrough(c.res, "BYPASS", fwdStatus("bypass", { detail }));
    return c.res;
  }

  #serveHit(
    item: MemoryItem,
    decision: Decision,
    route: CompiledRoute,
    head: boolean,
    headers: Headers,
  ): Response {
    return this.#respond(item, head, headers, {
      cacheStatus: hitStatus(decision.ttlMs),
      outcome: "HIT",
      cdn: denoCdnValue(route.denoCdn, item, decision.ttlMs),
      now: this.#o.clock.now(),
    });
  }

  #serveStale(
    c: Context<AppEnv>,
    item: MemoryItem,
    decision: Decision,
    head: boolean,
    detail: string,
    status: number | null = null,
  ): Response {
    c.env.ctx.cacheOutcome = "STALE";
    if (detail !== "stale-if-error") this.stats.served("STALE");
    const cacheStatus = detail === "stale-if-error"
      ? fwdStatus("stale", { status, ttlMs: decision.ttlMs, detail })
      : hitStatus(decision.ttlMs, detail === "swr" ? "stale-while-revalidate" : detail);
    return this.#respond(item, head, c.req.raw.headers, {
      cacheStatus,
      outcome: "STALE",
      cdn: null,
      now: this.#o.clock.now(),
    });
  }

  #respond(
    item: MemoryItem,
    head: boolean,
    headers: Headers,
    o: { cacheStatus: string; outcome: CacheOutcome; cdn: string | null; now: number },
  ): Response {
    const inm = headers.get("if-none-match");
    const ims = inm === null ? headers.get("if-modified-since") : null;
    return serveItem(item, {
      head,
      ageSeconds: wholeSeconds(currentAge(item.entry.timing, o.now)),
      cacheStatus: o.cacheStatus,
      outcome: o.outcome,
      cdn: o.cdn,
      notModified: (inm !== null || ims !== null) && notModified(inm, ims, item),
    });
  }

  /** Memory first, then KV (promoting what it finds into memory). KV failures count as misses. */
  async #lookup(urlKey: string, headers: Headers): Promise<Lookup> {
    const get = (n: string) => headers.get(n);
    const mem = this.#fromMemory(urlKey, get);
    if (mem.item !== null) return mem;
    const now = this.#o.clock.now();
    try {
      let read = await this.store.readMeta(await kvSlot(urlKey, ""));
      let variant: string | null = mem.variant;
      if (read.value?.kind === "vary") {
        variant = varyValues(read.value.vary, get);
        this.memory.setVary(urlKey, read.value.vary);
        read = await this.store.readMeta(await kvSlot(urlKey, variant));
      }
      if (read.value?.kind === "entry" && isRetained(read.value.entry.timing, now)) {
        const item = await this.#filler.load(read.value);
        if (item === null) this.stats.tornRead();
        else {
          this.memory.setEntry(item);
          return { item, variant: item.entry.variant === "" ? null : item.entry.variant };
        }
      }
      // A fill may have finished while KV was read.
      const again = this.#fromMemory(urlKey, get);
      return again.item !== null ? again : { item: null, variant };
    } catch (error) {
      this.stats.kvError("read", error);
      return mem;
    }
  }

  #fromMemory(urlKey: string, get: (n: string) => string | null): Lookup {
    const found = this.memory.get(urlKey);
    if (found === undefined) return { item: null, variant: null };
    if (found.kind === "entry") {
      return isRetained(found.entry.timing, this.#o.clock.now())
        ? { item: found, variant: null }
        : { item: null, variant: null };
    }
    const variant = varyValues(found.vary, get);
    const entry = this.memory.get(variantKey(urlKey, variant));
    if (entry?.kind === "entry" && isRetained(entry.entry.timing, this.#o.clock.now())) {
      return { item: entry, variant };
    }
    return { item: null, variant };
  }

  #revalidateInBackground(
    c: Context<AppEnv>,
    urlKey: string,
    found: Lookup,
    route: CompiledRoute,
  ): void {
    const memKey = variantKey(urlKey, found.variant ?? "");
    if (this.#flights.has(memKey)) return;
    const target: FillTarget = {
      urlKey,
      variant: found.variant,
      stale: found.item,
      rules: route.rules,
      mode: "background",
      acceptRemote: false,
    };
    pinRequestFacts(c);
    const run = this.#filler.fill(target, c.req.raw, (r, done) => this.#o.forward(c, r, done));
    this.#flights.set(memKey, run);
    const task = run.then(async (result) => {
      this.stats.filled("background", result);
      if (result.kind === "pass") {
        await result.response.body?.cancel().catch(() => {});
        result.release();
      }
    }).catch((error) => this.stats.backgroundFailed(urlKey, error))
      .finally(() => {
        if (this.#flights.get(memKey) === run) this.#flights.delete(memKey);
      });
    this.#track(task);
  }

  /** Purges URL keys and tags on every node (see `Purger.purge`); 503 when KV fails. */
  async purge(urlKeys: string[], tags: string[], soft: boolean): Promise<PurgeSummary> {
    try {
      const summary = await this.purger.purge(urlKeys, tags, soft);
      this.stats.memoryChanged();
      return summary;
    } catch (error) {
      this.stats.kvError("purge", error);
      throw new HttpError(503, "The purge could not be recorded; try again", {
        code: "purge_failed",
        headers: { "retry-after": "1" },
        cause: error,
      });
    }
  }

  /** Drops URL keys here and, when KV holds them, everywhere (unsafe-method invalidation). */
  async invalidate(urlKeys: string[]): Promise<void> {
    for (const key of urlKeys) this.memory.deleteUrl(key);
    try {
      const stored: string[] = [];
      for (const key of urlKeys) {
        if ((await this.store.slotsOfUrl((await kvSlot(key, "")).url)).length > 0) stored.push(key);
      }
      if (stored.length > 0) await this.purger.purge(stored, [], false);
    } catch (error) {
      this.stats.kvError("invalidate", error);
    }
  }

  #track(task: Promise<unknown>): void {
    const t = task.catch(() => {}).finally(() => this.#background.delete(t));
    this.#background.add(t);
  }

  /** This node's cache figures (for `GET /_edge/cache` and benchmarks). */
  snapshot(): {
    memory: { bytes: number; items: number; budgetBytes: number };
    inFlight: number;
    background: number;
    rssBytes: number;
  } {
    this.stats.memoryChanged();
    return {
      memory: {
        bytes: this.memory.bytes,
        items: this.memory.count,
        budgetBytes: this.memory.maxBytes,
      },
      inFlight: this.#flights.size,
      background: this.#background.size,
      rssBytes: Deno.memoryUsage().rss,
    };
  }

  /** Resolves when background work (revalidations, KV writes) has finished. */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  /** Starts the purge watch (the polling job is registered by the app). */
  start(): void {
    void this.purger.sync().catch((error) => this.stats.purgeSyncFailed(error));
    this.purger.start((error) => this.stats.purgeSyncFailed(error));
  }

  /** Stops the watch and waits for background work. */
  async close(): Promise<void> {
    await this.purger.close();
    await this.settled();
  }
}

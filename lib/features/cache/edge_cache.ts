/**
 * The SWR edge cache in front of the origins. Fresh memory hits are answered synchronously before
 * routing ({@linkcode EdgeCache.fastHit}); everything else goes through the middleware to the
 * {@linkcode CacheHandler}: memory, then KV, then one collapsed fill from the origin per key.
 * This class also owns purges, invalidation and the background work.
 */

import type { Context, Next } from "hono";
import type { AppEnv, EdgeRequestContext } from "../../core/request.ts";
import type { Clock } from "../../core/clock.ts";
import { HttpError } from "../../platform/http/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import type { CacheConfig } from "./config.ts";
import { NO_REQUEST_DIRECTIVES, parseRequestDirectives } from "./directives.ts";
import { Filler, type FillResult } from "./fill.ts";
import { Flights } from "./flight.ts";
import { decide } from "./freshness.ts";
import { type CacheForward, CacheHandler } from "./handler.ts";
import { invalidateAfterUnsafe } from "./invalidate.ts";
import { varyValues } from "./key.ts";
import { kvSlot } from "./keys.ts";
import { KvStore } from "./kv_store.ts";
import { Lookups } from "./lookup.ts";
import { MemoryTier, variantKey } from "./memory.ts";
import { PassMarks } from "./pass.ts";
import { CachePolicy, type CompiledRoute } from "./policy.ts";
import { loadTranscode, Representations } from "./represent.ts";
import { Purger, type PurgeSummary } from "./purge.ts";
import { ScopedCache } from "./scoped.ts";
import { CacheStats } from "./stats.ts";

/** A GET/HEAD for a URL marked hit-for-pass, which the app forwards before routing. */
export class FastPass {
  readonly urlKey: string;
  readonly route: CompiledRoute;

  constructor(urlKey: string, route: CompiledRoute) {
    this.urlKey = urlKey;
    this.route = route;
  }
}

/** URLs remembered for hit-for-pass at most (about 100 bytes each). */
const HIT_FOR_PASS_ENTRIES = 10_000;

/** Collaborators of the {@linkcode EdgeCache}. */
export interface EdgeCacheOptions {
  config: CacheConfig;
  kv: Deno.Kv;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  region: string;
  /**
   * The variant headers of the A/B experiments at a path: requests there must pass the
   * experiment before a hit, and entries there are kept per variant.
   */
  experimentHeaders: (path: string) => readonly string[];
  forward: CacheForward;
}

/** How the cache reaches origins (re-exported for the app). */
export type { CacheForward };

/** The cache. */
export class EdgeCache {
  readonly policy: CachePolicy;
  readonly memory: MemoryTier;
  readonly store: KvStore;
  readonly purger: Purger;
  readonly stats: CacheStats;
  /** URLs that answered uncacheable lately (hit-for-pass). */
  readonly passes: PassMarks;
  readonly #o: EdgeCacheOptions;
  readonly #filler: Filler;
  readonly #flights = new Flights<FillResult>();
  readonly #handler: CacheHandler;
  readonly #lookups: Lookups;
  readonly #reps: Representations;
  readonly #background = new Set<Promise<unknown>>();

  constructor(options: EdgeCacheOptions) {
    this.#o = options;
    const { config, kv, clock, log, metrics } = options;
    this.policy = new CachePolicy(config);
    this.passes = new PassMarks({
      ttlMs: config.hitForPassSeconds * 1000,
      maxEntries: HIT_FOR_PASS_ENTRIES,
    });
    this.memory = new MemoryTier({
      maxBytes: config.memoryBytes,
      // One object may take a quarter of the budget, so a few large ones cannot flush the rest.
      maxEntryBytes: Math.max(1, Math.floor(config.memoryBytes / 4)),
    });
    this.stats = new CacheStats(metrics, this.memory, log);
    this.store = new KvStore(kv, {
      onInvalid: (key, reason) => this.stats.invalidKv(key, reason),
      timeoutMs: config.kvTimeoutMs,
      maxBytes: config.kv.maxBytes,
      keepStaleMs: config.kv.keepStaleSeconds * 1000,
      onRemoved: (reason, entries, bytes) => this.stats.kvRemoved(reason, entries, bytes),
      onRefused: () => this.stats.kvSkipped("budget"),
      onCommit: (kind) => this.stats.kvCommitted(kind),
    });
    this.stats.kvBudget(config.kv.maxBytes);
    this.#filler = new Filler({
      store: this.store,
      memory: this.memory,
      clock,
      leaseMs: config.leaseMs,
      lease: config.lease,
      maxBodyBytes: config.maxBodyBytes,
      holder: `${options.region}-${crypto.randomUUID().slice(0, 8)}`,
      kvError: (op, error) => this.stats.kvError(op, error),
      kvSkipped: (reason) => this.stats.kvSkipped(reason),
      background: (task) => this.#track(task),
    });
    this.#lookups = new Lookups({
      memory: this.memory,
      store: this.store,
      filler: this.#filler,
      clock,
      stats: this.stats,
    });
    this.#reps = new Representations({ memory: this.memory, compression: config.compression });
    this.#handler = new CacheHandler({
      policy: this.policy,
      stats: this.stats,
      clock,
      filler: this.#filler,
      flights: this.#flights,
      lookups: this.#lookups,
      forward: options.forward,
      reps: this.#reps,
      passes: this.passes,
      experimentHeaders: options.experimentHeaders,
      track: (task) => this.#track(task),
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
    const fast = this.fast(req, ctx);
    return fast instanceof Response ? fast : null;
  }

  /**
   * What the app may do before routing a GET/HEAD: a fresh memory hit (see `fastHit`), a
   * {@linkcode FastPass} for a URL marked hit-for-pass (forwarded at once, then given to
   * {@linkcode passed}), or null for the normal way. Never for a path under an experiment, a
   * bypassed route or a custom key; an `only-if-cached` request takes the normal way (504).
   */
  fast(req: Request, ctx: EdgeRequestContext): Response | FastPass | null {
    const hits = this.memory.count > 0;
    const passes = this.passes.size > 0;
    if (!hits && !passes) return null;
    // A WebSocket (or any protocol) upgrade is never answered from the cache nor passed by it.
    if (req.headers.has("upgrade")) return null;
    const path = ctx.target.path;
    if (!this.policy.handles(path) || this.#o.experimentHeaders(path).length > 0) return null;
    const route = this.policy.route(path);
    if (route.bypass || !route.plainKey) return null;
    const key = route.key(ctx.href, req);
    if (key === null) return null;
    const headers = req.headers;
    if (hits) {
      const hit = this.#fastHit(req, ctx, route, key);
      if (hit !== null) return hit;
    }
    if (!passes || !this.passes.has(key, this.#o.clock.now())) return null;
    const cc = headers.get("cache-control");
    if (cc !== null && parseRequestDirectives(cc, null).onlyIfCached) return null;
    return new FastPass(key, route);
  }

  #fastHit(
    req: Request,
    ctx: EdgeRequestContext,
    route: CompiledRoute,
    key: string,
  ): Response | null {
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
    // The byte transforms are not loaded yet: the routed way waits for them.
    if (this.#reps.ready(found, headers.get("accept-encoding")) !== null) return null;
    const hit = this.#handler.serveHit(found, decision, route, req.method === "HEAD", headers);
    if (hit === null) return null;
    ctx.cacheOutcome = "HIT";
    this.stats.served("HIT");
    return hit;
  }

  /**
   * The origin's answer to a {@linkcode FastPass} (sent at `requestTime`, the cache's clock):
   * renews or lifts the mark and marks the response, as the routed way does.
   */
  passed(
    res: Response,
    pass: FastPass,
    request: { requestTime: number; authorization: boolean; ctx: EdgeRequestContext },
  ): Response {
    return this.#handler.passed(res, { urlKey: pass.urlKey, route: pass.route, ...request });
  }

  /** The Hono middleware for the main app (after A/B assignment, before the origin proxy). */
  middleware(): (c: Context<AppEnv>, next: Next) => Promise<Response | void> {
    const policy = this.policy;
    const invalidate = (keys: string[]) => this.invalidate(keys);
    const handler = this.#handler;
    return async function edgeCache(c, next) {
      const req = c.req.raw;
      const method = req.method;
      if (method !== "GET" && method !== "HEAD") {
        await next();
        await invalidateAfterUnsafe(c, policy, invalidate);
        return;
      }
      const path = c.env.ctx.target.path;
      if (!policy.handles(path) || req.headers.has("upgrade")) return await next();
      return await handler.handle(c, next, path);
    };
  }

  /**
   * The cache under keys of one scope, for code that stores responses itself (users' functions):
   * the default route's freshness rules, this cache's tiers and limits.
   */
  scoped(scope: string): ScopedCache {
    return new ScopedCache({
      scope,
      memory: this.memory,
      store: this.store,
      lookups: this.#lookups,
      clock: this.#o.clock,
      rules: this.policy.defaultRules,
      maxBodyBytes: this.#o.config.maxBodyBytes,
      kvError: (op, error) => this.stats.kvError(op, error),
      invalidate: (keys) => this.invalidate(keys),
    });
  }

  /** Purges URL keys and tags on every node (see `Purger.purge`); 503 when KV fails. */
  async purge(urlKeys: string[], tags: string[], soft: boolean): Promise<PurgeSummary> {
    for (const key of urlKeys) this.passes.forget(key);
    try {
      const summary = await this.purger.purge(urlKeys, tags, soft);
      this.stats.memoryChanged();
      this.#o.log.info("cache purge", {
        urls: urlKeys.length,
        tags: tags.slice(0, 20),
        soft,
        entries: summary.entries,
        seq: summary.seq,
      });
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

  /**
   * The `cache-kv-sweep` job: entries whose time is up leave KV (counted out of the budget), the
   * budget is enforced in case writes went past it, and every `reconcileEvery` runs the usage
   * counters are checked against the index.
   */
  async sweepKv(run: number, reconcileEvery = 60): Promise<void> {
    const budget = this.store.budget;
    await budget.sweep(this.#o.clock.now());
    if (run % reconcileEvery === 0) {
      const drift = await budget.reconcile();
      if (drift !== null && drift !== 0) {
        this.#o.log.warn("cache KV usage counters corrected", { drift_bytes: drift });
      }
    }
    if ((await budget.used()) > budget.maxBytes) await budget.evict(budget.maxBytes * 0.9);
    this.stats.kvUsed(budget.lastUsed);
  }

  /** Drops URL keys here and, when KV holds them, everywhere (unsafe-method invalidation). */
  async invalidate(urlKeys: string[]): Promise<void> {
    for (const key of urlKeys) {
      this.memory.deleteUrl(key);
      this.passes.forget(key);
    }
    try {
      await this.store.within(async () => {
        const stored: string[] = [];
        for (const key of urlKeys) {
          const slots = await this.store.slotsOfUrl((await kvSlot(key, "")).url);
          if (slots.length > 0) stored.push(key);
        }
        if (stored.length > 0) await this.purger.purge(stored, [], false);
      });
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
    /** The KV tier's usage as this node last read it (null before the first write or sweep). */
    kv: { usedBytes: number | null; budgetBytes: number };
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
      kv: { usedBytes: this.store.budget.lastUsed, budgetBytes: this.store.budget.maxBytes },
      inFlight: this.#flights.size,
      background: this.#background.size,
      rssBytes: rss(),
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

  /**
   * Loads the byte transforms (decoding and compressing stored bodies), which start-up leaves
   * out; the first request that needs them before this waits for the same load.
   */
  warm(): Promise<void> {
    return loadTranscode();
  }

  /** Stops the watch and waits for background work. */
  async close(): Promise<void> {
    await this.purger.close();
    await this.settled();
  }
}

function rss(): number {
  try {
    return Deno.memoryUsage().rss;
  } catch {
    return 0; // not offered by every host
  }
}

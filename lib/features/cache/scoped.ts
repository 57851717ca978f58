/**
 * The cache as a programmable store (`ctx.cache` of users' functions): `match`, `put` and
 * `delete` by request, with the same storage rules, freshness decisions, tiers, chunked KV
 * bodies, Vary handling and tag purges as the cache in front of the origins. Entries live under
 * keys of their own scope (`fn:<scope>:<path?query>`), which no client URL can produce, so they
 * never answer a client by themselves and no scope can read or overwrite another's.
 */

import type { Clock } from "../../core/clock.ts";
import { parseRequestDirectives } from "./directives.ts";
import { newVersion, type StoredEntry, storedHeaders } from "./entry.ts";
import { currentAge, decide, type FreshnessRules, storagePolicy } from "./freshness.ts";
import { MAX_KEY_LENGTH, normalizeUrl, parseTags, varyValues } from "./key.ts";
import { kvSlot } from "./keys.ts";
import type { KvStore } from "./kv_store.ts";
import type { Lookups } from "./lookup.ts";
import { makeItem, type MemoryTier } from "./memory.ts";
import { contentLength, readLimited } from "./origin_io.ts";
import { Publisher } from "./publish.ts";
import { answer } from "./respond.ts";
import { hitStatus, wholeSeconds } from "./serve.ts";

/** Collaborators of a {@linkcode ScopedCache} (the edge cache's own tiers). */
export interface ScopedCacheOptions {
  scope: string;
  memory: MemoryTier;
  store: KvStore;
  lookups: Lookups;
  clock: Clock;
  rules: FreshnessRules;
  maxBodyBytes: number;
  kvError(op: string, error: unknown): void;
  /** Drops keys here and on every node (the cache's invalidation). */
  invalidate(urlKeys: string[]): Promise<void>;
}

/** The cache under one scope's keys. */
export class ScopedCache {
  readonly #o: ScopedCacheOptions;
  readonly #publisher: Publisher;
  readonly #prefix: string;

  constructor(options: ScopedCacheOptions) {
    if (!/^[A-Za-z0-9_.\/\[\]~-]{1,128}$/.test(options.scope)) {
      throw new TypeError(`Invalid cache scope: ${options.scope}`);
    }
    this.#o = options;
    this.#prefix = `fn:${options.scope}:`;
    this.#publisher = new Publisher(options);
  }

  /** The key of a request URL in this scope (host left out), or null when too long. */
  keyOf(url: string): string | null {
    const path = normalizeUrl(url, null, false, true);
    if (path === null) return null;
    const key = this.#prefix + path;
    return key.length <= MAX_KEY_LENGTH ? key : null;
  }

  /** A stored response fresh enough for `req` (a GET or HEAD), else undefined. */
  async match(req: Request): Promise<Response | undefined> {
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) return undefined;
    const key = this.keyOf(req.url);
    if (key === null) return undefined;
    const headers = req.headers;
    const { item } = await this.#o.lookups.find(key, headers);
    if (item === null) return undefined;
    if (headers.has("authorization") && !item.entry.timing.authOk) return undefined;
    if (item.entry.vary.length > 0) {
      const variant = varyValues(item.entry.vary, (n) => headers.get(n));
      if (variant !== item.entry.variant) return undefined;
    }
    const dirs = parseRequestDirectives(headers.get("cache-control"), headers.get("pragma"));
    const now = this.#o.clock.now();
    const decision = decide(item.entry.timing, now, dirs);
    if (decision.action !== "hit") return undefined;
    return answer(item, head, headers, {
      ageSeconds: wholeSeconds(currentAge(item.entry.timing, now)),
      cacheStatus: hitStatus(decision.ttlMs),
      outcome: "HIT",
      cdn: null,
    });
  }

  /**
   * Stores `res` as the answer to a GET of `req` when a shared cache may (RFC 9111 §3: status,
   * `no-store`, `private`, `Vary: *`, `Authorization`, `Set-Cookie`, a freshness lifetime or a
   * validator) and the body fits `cache.maxBodyBytes`. Consumes the body; true when stored.
   */
  async put(req: Request, res: Response): Promise<boolean> {
    if (req.method !== "GET") throw new TypeError(`Only GET requests are cached: ${req.method}`);
    if (res.bodyUsed) throw new TypeError("The response body has already been read");
    const key = this.keyOf(req.url);
    const now = this.#o.clock.now();
    const policy = key === null ? null : storagePolicy({
      status: res.status,
      headers: res.headers,
      authorization: req.headers.has("authorization"),
      requestTime: now,
      responseTime: now,
    }, this.#o.rules);
    const declared = contentLength(res.headers);
    if (
      key === null || !policy?.store || (declared !== null && declared > this.#o.maxBodyBytes)
    ) {
      await res.body?.cancel().catch(() => {});
      return false;
    }
    const body = await readLimited(res, this.#o.maxBodyBytes);
    if (body instanceof Response) {
      await body.body?.cancel().catch(() => {});
      return false;
    }
    const variant = policy.vary.length > 0
      ? varyValues(policy.vary, (n) => req.headers.get(n))
      : "";
    const entry: StoredEntry = {
      key,
      variant,
      status: res.status,
      headers: storedHeaders(res.headers, policy.strip, now),
      timing: policy.timing,
      vary: policy.vary,
      tags: parseTags(res.headers),
      size: body.byteLength,
      version: newVersion(now),
      chunks: 0,
    };
    const { memory, store } = this.#o;
    const epoch = memory.epoch;
    let read;
    let purgeVs;
    try {
      const slot = await kvSlot(key, variant);
      [read, purgeVs] = await store.within(() =>
        Promise.all([store.readMeta(slot), store.purgeVersionstamp()])
      );
    } catch (error) {
      this.#o.kvError("read", error);
      return false;
    }
    if (memory.epoch === epoch) {
      if (policy.vary.length > 0) memory.setVary(key, policy.vary);
      memory.setEntry(makeItem(entry, body));
    }
    await this.#publisher.publish(entry, body, read, purgeVs, variant === "" ? null : variant);
    return true;
  }

  /** Drops what is stored for `req`'s URL (every variant) here and on every node. */
  async delete(req: Request): Promise<void> {
    const key = this.keyOf(req.url);
    if (key !== null) await this.#o.invalidate([key]);
  }
}

/**
 * Filling and revalidating one entry from the origin: the cross-isolate lease, the (conditional)
 * origin request, the storage decision, buffering the body within its limit, and publishing to
 * the memory tier and to KV. One fill per key runs at a time in an isolate (see `flight.ts`).
 */

import type { Clock } from "../../core/clock.ts";
import { HttpError } from "../../platform/http/errors.ts";
import { NO_REQUEST_DIRECTIVES } from "./directives.ts";
import {
  headerView,
  mergeHeaders,
  type MetaValue,
  newVersion,
  type StoredEntry,
  storedHeaders,
} from "./entry.ts";
import { decide, type FreshnessRules, storagePolicy } from "./freshness.ts";
import { parseTags, varyValues } from "./key.ts";
import { type KvSlot, kvSlot } from "./keys.ts";
import type { KvStore, MetaRead, SlotRead } from "./kv_store.ts";
import { makeItem, type MemoryItem, type MemoryTier } from "./memory.ts";
import {
  contentLength,
  ERROR_STATUSES,
  itemBytes,
  originRequest,
  readLimited,
  rebuild,
} from "./origin_io.ts";
import { Publisher } from "./publish.ts";

/** Re-exported for the handler and tests. */
export { ERROR_STATUSES, itemBytes, originRequest };

/** What a fill produced; shared by the request that started it and those that waited. */
export type FillResult =
  | {
    kind: "entry";
    item: MemoryItem;
    outcome: "MISS" | "REVALIDATED" | "EXPIRED";
    /** The origin's status, or null when another node's fresh copy was used. */
    fwdStatus: number | null;
    stored: boolean;
    /** `Set-Cookie` fields of an explicitly public response, for the leader only. */
    cookies: string[];
  }
  | {
    kind: "pass";
    /** The origin's response, for the leader only (waiters make their own request). */
    response: Response;
    status: number;
    reason: string;
    /** Call once the response body has been delivered or dropped (ends the body timeout). */
    release: () => void;
  }
  | { kind: "skipped" };

/** Which entry a fill is for. */
export interface FillTarget {
  urlKey: string;
  /** The variant's Vary values when the URL's Vary is known; null on a URL's first fill. */
  variant: string | null;
  /** The stored response being revalidated, if any. */
  stale: MemoryItem | null;
  rules: FreshnessRules;
  /** `miss`/`revalidate` answer a client; `background` is a stale-while-revalidate refresh. */
  mode: "miss" | "revalidate" | "background";
  /** Another node's copy may answer (false when the client asked for validation). */
  acceptRemote: boolean;
  /**
   * Request headers the edge itself sets and the entry varies on, whatever the origin's `Vary`
   * says (lower-case; an A/B experiment's variant header).
   */
  edgeVary?: readonly string[];
}

/** The origin's Vary names plus the edge's own, sorted and unique like `parseVary`'s. */
function withEdgeVary(vary: string[], edge: readonly string[] | undefined): string[] {
  if (edge === undefined || edge.length === 0) return vary;
  return [...new Set([...vary, ...edge])].sort();
}

/** Sends a request to the origin; `completed` settles when the body has been consumed. */
export type OriginForward = (request: Request, completed: Promise<void>) => Promise<Response>;

/** Collaborators of a {@linkcode Filler}. */
export interface FillerOptions {
  store: KvStore;
  memory: MemoryTier;
  clock: Clock;
  leaseMs: number;
  /**
   * When a fill takes the cross-isolate lease: `known` only for URLs the cache has seen stored
   * (a stale copy here, anything in KV), where other nodes are likely to be filling the same key;
   * `always` for every miss (new URLs too, at two more KV writes per miss).
   */
  lease?: "known" | "always";
  maxBodyBytes: number;
  /** This node's id in leases. */
  holder: string;
  kvError(op: string, error: unknown): void;
  /** A fill stayed out of KV: too many writes were waiting. */
  kvSkipped?(reason: "backlog"): void;
  /** Tracks work that outlives the request (KV writes). */
  background(task: Promise<unknown>): void;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Does one fill at a time for a key; see the module comment. */
export class Filler {
  readonly #o: FillerOptions;
  readonly #publisher: Publisher;

  constructor(options: FillerOptions) {
    this.#o = options;
    this.#publisher = new Publisher(options);
  }

  /** Loads an entry's body from KV and makes a memory item (null when torn or unreadable). */
  async load(
    read: MetaValue,
    consistency: Deno.KvConsistencyLevel = "strong",
  ): Promise<MemoryItem | null> {
    if (read.kind !== "entry") return null;
    const body = await this.#o.store.readBody(read.entry, read.body, consistency);
    return body === null ? null : makeItem(read.entry, body);
  }

  /** Runs one fill for `target` on behalf of `req`. Origin failures throw `HttpError`. */
  async fill(target: FillTarget, req: Request, forward: OriginForward): Promise<FillResult> {
    const o = this.#o;
    const epoch = o.memory.epoch;
    const slot = await kvSlot(target.urlKey, target.variant ?? "");
    // The metadata, the purge head and the lease in one strong round trip (the lookup's was an
    // eventual read: good enough to answer, not to decide what to write).
    let state: SlotRead | null = null;
    try {
      state = await o.store.within(() => o.store.readSlot(slot));
    } catch (error) {
      o.kvError("read", error);
    }
    const read = state?.meta ?? null;
    const purgeVs = state?.purgeVs ?? null;
    let leased = false;
    if (read !== null && target.acceptRemote && target.mode !== "background") {
      const remote = await this.#remoteCopy(read, target);
      if (remote) return remote;
    }
    if (state !== null && this.#wantsLease(state, target)) {
      try {
        const holder = await o.store.within(() =>
          o.store.takeLease(slot, o.holder, o.clock.now(), o.leaseMs, state.lease)
        );
        leased = holder === o.holder;
      } catch (error) {
        o.kvError("lease", error);
        leased = true; // without KV there is no one to wait for
      }
      if (!leased) {
        if (target.mode === "background") return { kind: "skipped" };
        const remote = await this.#waitForRemote(slot, target);
        if (remote) return remote;
      }
    }
    let write: Promise<void> | null = null;
    try {
      const fetched = await this.#fetch(target, req, forward, epoch, read, purgeVs);
      write = fetched.write;
      return fetched.result;
    } finally {
      if (write !== null) {
        const published = write.finally(() => leased ? this.#release(slot) : undefined);
        if (o.memory.enabled) o.background(published);
        else await published;
      } else if (leased) await this.#release(slot);
    }
  }

  /**
   * Whether collapsing across isolates can help this fill: another node is filling the key now,
   * or the key was stored before (a stale copy here, an entry or a Vary marker in KV), so that
   * other nodes are likely to miss it at the same moment. A URL the cache never stored (most
   * often one that is never stored at all) is fetched without the lease's two KV writes, unless
   * `lease` is `always`.
   */
  #wantsLease(state: SlotRead, target: FillTarget): boolean {
    const { holder, until } = state.lease;
    if (holder !== null && holder !== this.#o.holder && until > this.#o.clock.now()) return true;
    return this.#o.lease === "always" || target.stale !== null || state.meta.value !== null;
  }

  async #release(slot: KvSlot): Promise<void> {
    try {
      await this.#o.store.releaseLease(slot, this.#o.holder);
    } catch (error) {
      this.#o.kvError("lease", error);
    }
  }

  /** Another node's copy, newer than ours and fresh, if KV has one. */
  async #remoteCopy(read: MetaRead, target: FillTarget): Promise<FillResult | null> {
    const value = read.value;
    if (value?.kind !== "entry") return null;
    // Not one stored before an edge Vary applied (an experiment's page from before it began).
    const vary = value.entry.vary;
    if (target.edgeVary?.some((name) => !vary.includes(name))) return null;
    const since = target.stale?.entry.timing.responseTime ?? -Infinity;
    if (!(value.entry.timing.responseTime > since)) return null;
    if (decide(value.entry.timing, this.#o.clock.now(), NO_REQUEST_DIRECTIVES).action !== "hit") {
      return null;
    }
    let item: MemoryItem | null = null;
    try {
      item = await this.load(value);
    } catch (error) {
      this.#o.kvError("read", error);
    }
    if (item === null) return null;
    this.#o.memory.setEntry(item);
    return { kind: "entry", item, outcome: "MISS", fwdStatus: null, stored: false, cookies: [] };
  }

  /** Polls KV while another node holds the lease, until its copy appears or the lease runs out. */
  async #waitForRemote(slot: KvSlot, target: FillTarget): Promise<FillResult | null> {
    const deadline = performance.now() + this.#o.leaseMs;
    for (let i = 0; performance.now() < deadline; i++) {
      await sleep(Math.min(10 * 2 ** i, 200));
      try {
        const read = await this.#o.store.within(() => this.#o.store.readMeta(slot));
        const remote = await this.#remoteCopy(read, target);
        if (remote) return remote;
      } catch (error) {
        this.#o.kvError("read", error);
        return null;
      }
    }
    return null;
  }

  async #fetch(
    target: FillTarget,
    req: Request,
    forward: OriginForward,
    epoch: number,
    read: MetaRead | null,
    purgeVs: string | null,
  ): Promise<{ result: FillResult; write: Promise<void> | null }> {
    const o = this.#o;
    const { stale } = target;
    let markDone!: () => void;
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const requestTime = o.clock.now();
    let res: Response;
    try {
      res = await forward(originRequest(req, stale), done);
    } catch (error) {
      markDone();
      throw error;
    }
    const responseTime = o.clock.now();
    const status = res.status;
    if (status === 304 && stale) {
      markDone();
      await res.body?.cancel().catch(() => {});
      const result = await this.#refreshed(
        target,
        stale,
        res.headers,
        req,
        requestTime,
        responseTime,
        epoch,
      );
      return { result, write: null };
    }
    const pass = (response: Response, reason: string) => ({
      result: { kind: "pass", response, status, reason, release: markDone } as const,
      write: null,
    });
    if (stale && ERROR_STATUSES.has(status)) return pass(res, "error");
    const policy = storagePolicy({
      status,
      headers: res.headers,
      authorization: req.headers.has("authorization"),
      requestTime,
      responseTime,
    }, target.rules);
    if (!policy.store) {
      if (stale) await this.#publisher.drop(stale);
      return pass(res, policy.reason);
    }
    const declared = contentLength(res.headers);
    if (declared !== null && declared > o.maxBodyBytes) return pass(res, "too-large");
    let body: Uint8Array | Response;
    try {
      body = await readLimited(res, o.maxBodyBytes);
    } catch (error) {
      throw new HttpError(502, `The origin's response body failed: ${(error as Error).message}`, {
        code: "origin_body_failed",
      });
    } finally {
      markDone();
    }
    if (body instanceof Response) return pass(body, "too-large");
    if (declared !== null && body.byteLength !== declared) {
      return pass(rebuild(res, body), "length-mismatch");
    }
    const vary = withEdgeVary(policy.vary, target.edgeVary);
    const variant = vary.length > 0 ? varyValues(vary, (n) => req.headers.get(n)) : "";
    const entry: StoredEntry = {
      key: target.urlKey,
      variant,
      status,
      headers: storedHeaders(res.headers, policy.strip, responseTime),
      timing: policy.timing,
      vary,
      tags: parseTags(res.headers),
      size: body.byteLength,
      version: newVersion(responseTime),
      chunks: 0,
    };
    const item = makeItem(entry, body);
    const cookies = policy.strip.includes("set-cookie") ? res.headers.getSetCookie() : [];
    if (o.memory.epoch === epoch) {
      if (vary.length > 0) o.memory.setVary(target.urlKey, vary);
      o.memory.setEntry(item);
    }
    const write = read !== null && o.memory.epoch === epoch
      ? this.#publisher.publish(entry, body, read, purgeVs, target.variant)
      : null;
    return {
      result: {
        kind: "entry",
        item,
        outcome: stale ? "EXPIRED" : "MISS",
        fwdStatus: status,
        stored: true,
        cookies,
      },
      write,
    };
  }

  /** A 304: the stored response with updated fields and a new freshness lifetime. */
  async #refreshed(
    target: FillTarget,
    stale: MemoryItem,
    fresh: Headers,
    req: Request,
    requestTime: number,
    responseTime: number,
    epoch: number,
  ): Promise<FillResult> {
    const o = this.#o;
    const merged = mergeHeaders(stale.entry.headers, fresh);
    const policy = storagePolicy({
      status: stale.entry.status,
      headers: headerView(merged),
      authorization: req.headers.has("authorization"),
      requestTime,
      responseTime,
    }, target.rules);
    const entry: StoredEntry = {
      ...stale.entry,
      headers: policy.store ? merged.filter(([n]) => !policy.strip.includes(n)) : merged,
      timing: policy.store ? policy.timing : { ...stale.entry.timing, invalidatedAt: responseTime },
      tags: parseTags(headerView(merged)),
    };
    const body = itemBytes(stale);
    const item = makeItem(entry, body);
    if (!policy.store) {
      await this.#publisher.drop(stale);
      return {
        kind: "entry",
        item,
        outcome: "REVALIDATED",
        fwdStatus: 304,
        stored: false,
        cookies: [],
      };
    }
    if (o.memory.epoch === epoch) o.memory.setEntry(item);
    o.background(this.#publisher.updateKv(entry, body));
    return {
      kind: "entry",
      item,
      outcome: "REVALIDATED",
      fwdStatus: 304,
      stored: true,
      cookies: [],
    };
  }
}

/**
 * Automatic tracking: requests to configured paths become events (`page_view` by default)
 * without slowing the request. Events wait in a small in-memory batch written to KV as one
 * commit a moment later (or when the batch fills); failures are logged and counted, and a
 * failed batch is kept for the next try while the buffer has room.
 */

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { Logger } from "../../core/log.ts";
import { compilePathPatterns } from "../../platform/http/path_pattern.ts";
import { type AnalyticsEvent, UserIdSchema } from "./event_schema.ts";

/** Options for {@linkcode AutoTracker}. */
export interface AutoTrackerOptions {
  record: (events: AnalyticsEvent[]) => Promise<void>;
  log: Logger;
  /** Called with how many events were dropped (buffer full) or failed to be written. */
  onError: (kind: "write_failed" | "dropped", count: number) => void;
  batchSize: number;
  /** How long the first event of a batch may wait. */
  delayMs?: number;
  /** Events kept in memory at most (beyond it new ones are dropped and counted). */
  maxBuffered?: number;
}

/** Buffers tracked events and writes them in batches. */
export class AutoTracker {
  readonly #o: Required<AutoTrackerOptions>;
  #buffer: AnalyticsEvent[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> | null = null;
  #closed = false;

  constructor(options: AutoTrackerOptions) {
    this.#o = { delayMs: 250, maxBuffered: options.batchSize * 20, ...options };
  }

  /** Queues one event (synchronous: the request never waits for KV). */
  add(event: AnalyticsEvent): void {
    if (this.#buffer.length >= this.#o.maxBuffered) {
      this.#o.onError("dropped", 1);
      return;
    }
    this.#buffer.push(event);
    if (this.#buffer.length >= this.#o.batchSize) void this.flush();
    else if (this.#timer === undefined && !this.#closed) {
      this.#timer = setTimeout(() => void this.flush(), this.#o.delayMs);
    }
  }

  /** Events waiting to be written. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Writes everything buffered now (awaiting a flush already running first). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#flushing) await this.#flushing;
    if (this.#buffer.length === 0) return;
    this.#flushing = this.#write();
    try {
      await this.#flushing;
    } finally {
      this.#flushing = null;
    }
  }

  async #write(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, this.#o.batchSize);
      try {
        await this.#o.record(batch);
      } catch (error) {
        this.#o.onError("write_failed", batch.length);
        this.#o.log.error("tracked events could not be written", { events: batch.length, error });
        const room = this.#o.maxBuffered - this.#buffer.length;
        if (room < batch.length) this.#o.onError("dropped", batch.length - Math.max(room, 0));
        this.#buffer.unshift(...batch.slice(0, Math.max(room, 0)));
        return;
      }
    }
  }

  /** Flushes and stops the timer for good. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }
}

/** A short, stable pseudonym for a client address (cyrb53; not reversible by lookup alone). */
export function anonymousId(clientIp: string | null): string {
  if (clientIp === null) return "anon-unknown";
  const text = `outpost-anon:${clientIp}`;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const n = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return `anon-${n.toString(16).padStart(14, "0")}`;
}

/** Options for {@linkcode autoTracking}. */
export interface AutoTrackingOptions {
  paths: readonly string[];
  eventType: string;
  tracker: AutoTracker;
  now: () => number;
  /** Counts the approximate raw size of each tracked event (bandwidth report). */
  onEvent?: (bytes: number) => void;
}

/**
 * Middleware recording matching requests after they are answered: user id from authorization
 * (`ctx.userId`) when set, else a pseudonym of the client address.
 */
export function autoTracking(options: AutoTrackingOptions): MiddlewareHandler<AppEnv> {
  const matches = compilePathPatterns(options.paths);
  const { tracker, eventType, now } = options;
  return async function autoTracking(c, next) {
    const path = c.req.path;
    if (!matches(path)) return await next();
    await next();
    const ctx = c.env.ctx;
    const userId = ctx.userId;
    const event: AnalyticsEvent = {
      user_id: userId && UserIdSchema.safeParse(userId).success
        ? userId
        : anonymousId(ctx.clientIp),
      event_type: eventType,
      timestamp: now(),
      properties: {
        path: path.length > 256 ? path.slice(0, 256) : path,
        method: c.req.method,
        status: c.res.status,
      },
    };
    options.onEvent?.(JSON.stringify(event).length);
    tracker.add(event);
  };
}

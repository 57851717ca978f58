/**
 * The context of one call (`ctx`): views of the edge's services bound to the function and to
 * this request, each refusing to work once the call's time is up. Nothing on it reaches the
 * edge's configuration, secrets, or other functions' data.
 */

import type { Context } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { AnalyticsEdge } from "../analytics/edge.ts";
import {
  type AnalyticsEvent,
  EventTypeSchema,
  propertiesProblem,
  UserIdSchema,
} from "../analytics/event_schema.ts";
import { anonymousId } from "../analytics/tracker.ts";
import type { ScopedCache } from "../cache/scoped.ts";
import type { Logger } from "../../core/log.ts";
import type { FunctionKvStore } from "./kv.ts";
import type {
  FunctionCache,
  FunctionContext,
  FunctionGeo,
  FunctionKv,
  FunctionLog,
  FunctionOrigin,
  FunctionUser,
  TrackEvent,
} from "./types.ts";

const MAX_ORIGIN_PATH = 8192;

/** What a call's context is made from: the function's own services and the request's. */
export interface CallParts {
  name: string;
  c: Context<AppEnv>;
  kv: FunctionKvStore;
  cache: ScopedCache | null;
  analytics: AnalyticsEdge | null;
  /** The node's region (`ctx.geo.servedBy`). */
  region: string;
  /** The function's logger (lines get `request_id` added). */
  log: Logger;
  /** Sends a request to the nearest healthy origin through the proxy. */
  forward: (c: Context<AppEnv>, request: Request) => Promise<Response>;
}

/** Whether the call may still act, and why not once it may not. */
export class CallClock {
  readonly #deadline: number;
  readonly #controller = new AbortController();

  constructor(timeoutMs: number) {
    this.#deadline = performance.now() + timeoutMs;
  }

  /** Aborted when the time is up (see {@linkcode CallClock.expire}). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Ends the call now: its signal aborts and every later use of its context is refused. */
  expire(reason: DOMException): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /** Throws the call's timeout when its time is up. */
  check(): void {
    if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
    if (performance.now() >= this.#deadline) {
      this.expire(new DOMException("The function's time limit has passed", "TimeoutError"));
      throw this.#controller.signal.reason;
    }
  }

  /** Runs `work` unless the time is up (then rejects with the timeout). */
  run<T>(work: () => Promise<T>): Promise<T> {
    try {
      this.check();
    } catch (error) {
      return Promise.reject(error);
    }
    return work();
  }
}

function toRequest(input: Request | string, base: string): Request {
  if (input instanceof Request) return input;
  if (typeof input !== "string" || !input.startsWith("/") || input.startsWith("//")) {
    throw new TypeError(`Expected a Request or a path starting with /: ${String(input)}`);
  }
  return new Request(new URL(input, base));
}

/** The scheme and authority of a request URL (`http://host:port`). */
function baseOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return start < 0 ? url : url.slice(0, start);
}

/** Builds the context of one call. */
export function callContext(parts: CallParts, clock: CallClock): FunctionContext {
  const { c, name } = parts;
  const edgeCtx = c.env.ctx;
  const base = baseOf(c.req.url);
  const signal = AbortSignal.any([c.req.raw.signal, clock.signal]);
  const store = parts.kv;

  const kv: FunctionKv = {
    get: (key, options) => clock.run(() => store.get(key, options)),
    put: (key, value, options) => clock.run(() => store.put(key, value, options)),
    delete: (key) => clock.run(() => store.delete(key)),
    list: (options) => clock.run(() => store.list(options)),
  };

  const scoped = parts.cache;
  const cache: FunctionCache = {
    match: (request) =>
      clock.run(async () => scoped ? await scoped.match(toRequest(request, base)) : undefined),
    put: (request, response) =>
      clock.run(async () => {
        if (scoped) return await scoped.put(toRequest(request, base), response);
        await response.body?.cancel().catch(() => {});
        return false;
      }),
    delete: (request) =>
      clock.run(async () => {
        if (scoped) await scoped.delete(toRequest(request, base));
      }),
  };

  const origin: FunctionOrigin = {
    fetch(path, init = {}) {
      return clock.run(async () => {
        if (
          typeof path !== "string" || !path.startsWith("/") || path.startsWith("//") ||
          path.includes("\\") || path.length > MAX_ORIGIN_PATH
        ) {
          throw new TypeError(`ctx.origin.fetch takes a path starting with /: ${String(path)}`);
        }
        const headers = new Headers(init.headers);
        // The authority of the client's (canonical) request, as the proxy would send it.
        headers.set("host", base.slice(base.indexOf("//") + 2));
        const signals = init.signal ? [signal, init.signal] : [signal];
        const request = new Request(new URL(path, base), {
          ...init,
          headers,
          signal: AbortSignal.any(signals),
        });
        return await parts.forward(c, request);
      });
    },
  };

  let geo: FunctionGeo | undefined;
  let log: FunctionLog | undefined;
  return {
    name,
    requestId: edgeCtx.requestId,
    params: Object.freeze({ ...c.req.param() }),
    kv,
    cache,
    origin,
    get geo(): FunctionGeo {
      if (geo === undefined) {
        const g = edgeCtx.geo;
        geo = Object.freeze({
          country: g.country,
          location: g.lat !== null && g.lon !== null ? { lat: g.lat, lon: g.lon } : null,
          region: g.nearestRegion,
          servedBy: parts.region,
          source: g.source,
          distanceKm: g.distanceKm,
        });
      }
      return geo;
    },
    get variant(): string | null {
      for (const name in edgeCtx.variants) return edgeCtx.variants[name];
      return null;
    },
    get variants(): Readonly<Record<string, string>> {
      return Object.freeze({ ...edgeCtx.variants });
    },
    get user(): FunctionUser | null {
      if (edgeCtx.authz === undefined) return null;
      return Object.freeze({ id: edgeCtx.userId ?? null, roles: edgeCtx.userRoles ?? [] });
    },
    signal,
    track(event: TrackEvent): boolean {
      clock.check();
      return track(parts, event);
    },
    get log(): FunctionLog {
      return log ??= parts.log.child({ request_id: edgeCtx.requestId });
    },
  };
}

/** Validates and queues one event (false when this node keeps no analytics). */
function track(parts: CallParts, event: TrackEvent): boolean {
  if (typeof event !== "object" || event === null) {
    throw new TypeError('ctx.track takes an event like { type: "signup" }');
  }
  const type = EventTypeSchema.safeParse(event.type);
  if (!type.success) {
    throw new TypeError(`Invalid event type: ${type.error.issues[0].message}`);
  }
  const analytics = parts.analytics;
  if (analytics === null) return false;
  const ctx = parts.c.env.ctx;
  let userId = event.userId;
  if (userId !== undefined) {
    const parsed = UserIdSchema.safeParse(userId);
    if (!parsed.success) throw new TypeError(`Invalid userId: ${parsed.error.issues[0].message}`);
  } else {
    userId = ctx.userId && UserIdSchema.safeParse(ctx.userId).success
      ? ctx.userId
      : anonymousId(ctx.clientIp);
  }
  const out: AnalyticsEvent = {
    user_id: userId,
    event_type: type.data,
    timestamp: analytics.clock.now(),
  };
  if (event.properties !== undefined) {
    const props = event.properties;
    if (typeof props !== "object" || props === null || Array.isArray(props)) {
      throw new TypeError("Event properties must be an object");
    }
    const problem = propertiesProblem(props, analytics.limits.properties);
    if (problem) throw new TypeError(`Invalid event properties: ${problem}`);
    out.properties = props;
  }
  analytics.tracker.add(out);
  analytics.countTracked(JSON.stringify(out).length);
  return true;
}

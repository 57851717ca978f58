/** The per-request context every route and middleware of the edge shares. */

import type { ClientGeo } from "../features/geo/types.ts";
import type { CanonicalTarget } from "../platform/http/target.ts";

/**
 * What the edge knows about one request, built before routing (see `lib/core/context.ts`)
 * and reachable from every handler as `c.env.ctx`. Later stages add what they learn.
 */
export interface EdgeRequestContext {
  /** Echoed in `X-Request-Id` and in every problem+json body. */
  readonly requestId: string;
  /** `performance.now()` when the request arrived (for `Server-Timing`). */
  readonly startedAt: number;
  /**
   * The canonical request target (authority, normalized path, query): what routing,
   * authorization, A/B assignment, the cache key and forwarding all use. Never re-parse `req.url`.
   */
  readonly target: CanonicalTarget;
  /** The canonical URL with the client's scheme (`clientProto`): the cache key's input. */
  readonly href: string;
  /** The direct peer of this connection (text), when known. */
  readonly peerIp: string | null;
  /** Whether the direct peer is a configured trusted proxy. */
  readonly peerTrusted: boolean;
  /** The client's address: the peer, or the nearest untrusted hop of `X-Forwarded-For`. */
  readonly clientIp: string | null;
  /**
   * The scheme the client used: the connection's, or `X-Forwarded-Proto` from a trusted proxy.
   */
  readonly clientProto: "http" | "https";
  /** The client's location and nearest region, resolved on first read. */
  readonly geo: ClientGeo;
  /** A/B experiment assignments, experiment name → variant. */
  variants: Record<string, string>;
  /** Extra headers for the origin request (e.g. `X-Variant`), added by earlier stages. */
  originHeaders: Record<string, string>;
  /** `Server-Timing` entries added by stages (e.g. `origin;dur=12.3`). */
  timings: string[];
  /** Set by the cache: the short outcome also sent as `X-Cache`. */
  cacheOutcome?: "HIT" | "MISS" | "STALE" | "REVALIDATED" | "EXPIRED" | "BYPASS";
  /** Set by the proxy: which origin answered and how long its headers took. */
  upstream?: { region: string; ms: number };
  /**
   * Time this request spent waiting for origins: its own forwards (retries and failures too)
   * and, for a collapsed cache miss, the leader's fill it waited for.
   */
  originWaitMs: number;
  /** Set by authorization: the verified user id (null when anonymous). */
  userId?: string | null;
  /** Set by authorization: the verified user's roles (`anonymous` when anonymous). */
  userRoles?: readonly string[];
  /** Set by authorization on protected routes: what was decided. */
  authz?: { action: string; rateClass: string; failedOpen: boolean };
  /** Set by the problem handler: the `code` of the problem+json the edge answered with. */
  problem?: string;
  /**
   * Set when a user's function failed (threw, timed out, returned no Response): its 5xx is the
   * function's fault, counted as such and kept out of the node's health.
   */
  functionFault?: boolean;
  /** Set when the response is stamped: time to the response headers in milliseconds. */
  elapsedMs?: number;
}

/** What `Deno.serve` passes as the handler's second argument, plus the request context. */
export interface AppBindings {
  remoteAddr?: { hostname: string; port?: number; transport?: string };
  /** Settles when the response has been delivered (absent outside `Deno.serve`). */
  completed?: Promise<void>;
  /**
   * The request exactly as `Deno.serve` gave it, before any copy routing made (a WebSocket
   * upgrade must be made on this very object).
   */
  raw?: Request;
  ctx: EdgeRequestContext;
}

/** The edge's Hono environment. */
export type AppEnv = { Bindings: AppBindings };

/** What the edge's `fetch` accepts as its second argument (`Deno.ServeHandlerInfo` fits). */
export interface ServeInfo {
  remoteAddr?: { hostname: string; port?: number; transport?: string } | Deno.Addr;
  completed?: Promise<void>;
}

/** Hono's `c.env` for one request: the context, and `Deno.serve`'s info read on demand. */
export class RequestEnv implements AppBindings {
  readonly ctx: EdgeRequestContext;
  readonly raw: Request;
  readonly #info: ServeInfo | undefined;

  constructor(ctx: EdgeRequestContext, info: ServeInfo | undefined, raw: Request) {
    this.ctx = ctx;
    this.#info = info;
    this.raw = raw;
  }

  get completed(): Promise<void> | undefined {
    return this.#info?.completed;
  }

  get remoteAddr(): AppBindings["remoteAddr"] {
    return this.#info?.remoteAddr as AppBindings["remoteAddr"];
  }
}

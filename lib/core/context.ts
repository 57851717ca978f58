/**
 * The first and last step of every request, outside the router because each async middleware
 * layer costs on the hot path: the request id, who the client is (trusted proxies), where it is
 * (resolved lazily), and on the way out `X-Request-Id`, `X-Served-By` and `Server-Timing`.
 */

import type { EdgeRequestContext, ServeInfo } from "./request.ts";
import type { ClientGeo } from "../features/geo/types.ts";
import { CidrSet } from "../platform/net/ip.ts";
import { clientAddress } from "../platform/http/client.ts";
import type { CanonicalTarget } from "../platform/http/target.ts";

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Makes request ids: a random per-process prefix and a counter (unique, cheap, sortable). */
function requestIdGenerator(): (clientValue: string | null) => string {
  const prefix = crypto.randomUUID().slice(0, 13).replace("-", "");
  let counter = 0;
  return function requestId(clientValue) {
    if (clientValue !== null && VALID_REQUEST_ID.test(clientValue)) return clientValue;
    counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
    return `${prefix}-${counter.toString(36)}`;
  };
}

/** What locating a client starts from (the location itself may be resolved later). */
export interface ClientClues {
  headers: Headers;
  /** Whether the direct peer is a trusted proxy (whose location headers are believed). */
  peerTrusted: boolean;
  clientIp: string | null;
}

/** Where a client is: the request context's `geo` (the geo feature's). */
export type Locate = (clues: ClientClues) => ClientGeo;

/** Options for {@linkcode EdgeContexts}. */
export interface EdgeContextOptions {
  region: string;
  trustedProxies: readonly string[];
  locate: Locate;
}

interface ClientFacts {
  peerIp: string | null;
  peerTrusted: boolean;
  clientIp: string | null;
  clientProto: "http" | "https";
}

/**
 * One request's context. Who and where the client is are worked out on first read: a health
 * check or a cache hit that never asks pays for neither the peer address nor the IP lookup.
 */
class RequestContext implements EdgeRequestContext {
  readonly requestId: string;
  readonly startedAt: number;
  readonly target: CanonicalTarget;
  variants: Record<string, string> = {};
  originHeaders: Record<string, string> = {};
  timings: string[] = [];
  originWaitMs = 0;
  // Declared so every context has the same shape from the start (cheaper property access).
  problem?: string = undefined;
  elapsedMs?: number = undefined;
  readonly #req: Request;
  readonly #info: ServeInfo | undefined;
  readonly #trusted: CidrSet;
  readonly #locate: Locate;
  #client: ClientFacts | null = null;
  #geo: ClientGeo | null = null;
  #href: string | null = null;

  constructor(
    req: Request,
    info: ServeInfo | undefined,
    requestId: string,
    startedAt: number,
    target: CanonicalTarget,
    trusted: CidrSet,
    locate: Locate,
  ) {
    this.#req = req;
    this.#info = info;
    this.requestId = requestId;
    this.startedAt = startedAt;
    this.target = target;
    this.#trusted = trusted;
    this.#locate = locate;
  }

  #facts(): ClientFacts {
    if (this.#client !== null) return this.#client;
    const headers = this.#req.headers;
    const addr = this.#info?.remoteAddr;
    const peerIp = addr && "hostname" in addr ? addr.hostname : null;
    const peerTrusted = peerIp !== null && this.#trusted.has(peerIp);
    const clientIp = peerTrusted
      ? clientAddress(peerIp, headers.get("x-forwarded-for"), this.#trusted)
      : peerIp;
    // The connection's scheme, never an absolute-form target's claim (see lib/platform/http/target.ts).
    let clientProto = this.target.connectionScheme;
    if (peerTrusted) {
      const forwarded = headers.get("x-forwarded-proto")?.split(",", 1)[0].trim().toLowerCase();
      if (forwarded === "https" || forwarded === "http") clientProto = forwarded;
    }
    return this.#client = { peerIp, peerTrusted, clientIp, clientProto };
  }

  get peerIp(): string | null {
    return this.#facts().peerIp;
  }
  get peerTrusted(): boolean {
    return this.#facts().peerTrusted;
  }
  get clientIp(): string | null {
    return this.#facts().clientIp;
  }
  get clientProto(): "http" | "https" {
    return this.#facts().clientProto;
  }
  get href(): string {
    if (this.#href !== null) return this.#href;
    const t = this.target;
    const scheme = this.clientProto;
    return this.#href = scheme === t.connectionScheme
      ? t.url
      : `${scheme}://${t.authority}${t.path}${t.query}`;
  }
  get geo(): ClientGeo {
    if (this.#geo === null) {
      const { peerTrusted, clientIp } = this.#facts();
      this.#geo = this.#locate({ headers: this.#req.headers, peerTrusted, clientIp });
    }
    return this.#geo;
  }
}

/** Builds each request's context and stamps the node's identity on each response. */
export class EdgeContexts {
  readonly #region: string;
  readonly #trusted: CidrSet;
  readonly #locate: Locate;
  readonly #nextId = requestIdGenerator();

  constructor(options: EdgeContextOptions) {
    this.#region = options.region;
    this.#trusted = new CidrSet(options.trustedProxies);
    this.#locate = options.locate;
  }

  /**
   * The context of a request that just arrived (`info` from `Deno.serve`), with its canonical
   * target (see `canonicalTarget`; `req` is the request routing sees).
   */
  create(
    req: Request,
    info: ServeInfo | undefined,
    target: CanonicalTarget,
    startedAt = performance.now(),
  ): EdgeRequestContext {
    const requestId = this.#nextId(req.headers.get("x-request-id"));
    return new RequestContext(
      req,
      info,
      requestId,
      startedAt,
      target,
      this.#trusted,
      this.#locate,
    );
  }
  /** Adds `X-Request-Id`, `X-Served-By` and `Server-Timing` to the response. */
  stamp(res: Response, ctx: EdgeRequestContext): Response {
    let headers = res.headers;
    try {
      headers.set("x-request-id", ctx.requestId);
    } catch {
      res = new Response(res.body, res); // immutable headers: copy once
      headers = res.headers;
      headers.set("x-request-id", ctx.requestId);
    }
    headers.set("x-served-by", this.#region);
    // Stages put their entries (and an origin's own header) in ctx.timings; no read needed here.
    const elapsed = ctx.elapsedMs = performance.now() - ctx.startedAt;
    // No `desc` (X-Served-By names the region): a small response that stays within 512 bytes
    // leaves Deno.serve in one write instead of two.
    const timing = `edge;dur=${elapsed.toFixed(2)}`;
    headers.set(
      "server-timing",
      ctx.timings.length === 0 ? timing : `${ctx.timings.join(", ")}, ${timing}`,
    );
    return res;
  }
}

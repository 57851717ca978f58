/** Forwarding to the nearest healthy origin: `/api/*` always, and every path the cache passes on. */

import type { Context, Handler } from "hono";
import type { AppEnv, EdgeRequestContext } from "../../core/request.ts";
import type { Clock } from "../../core/clock.ts";
import type { CanonicalTarget } from "../../platform/http/target.ts";
import { HttpError } from "../../platform/http/errors.ts";
import { methodRefused, REFUSED_METHODS } from "../../platform/http/methods.ts";
import type { Forwarder } from "./forward.ts";
import { outpostHops, upstreamHeaders } from "./headers.ts";
import { isCoded, type PlainPaths, tellsCoding } from "./plain_paths.ts";

/** A method is a token (RFC 9110 §9.1); longer than this is not a method anyone uses. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
/** More Outpost hops than this in `Via` means an origin points back at an edge. */
const MAX_OUTPOST_HOPS = 4;

/** Options for {@linkcode forwardToOrigin}. */
export interface ForwardRouteOptions {
  forwarder: Forwarder;
  region: string;
  /** Method-override headers passed to the origin on POST (lower case; default none). */
  methodOverrideHeaders?: ReadonlySet<string>;
  /** Largest request body forwarded (413 past it). */
  maxBodyBytes?: number;
  /** `proxy.acceptEncoding` (default `client`). */
  acceptEncoding?: "client" | "identity";
  /**
   * Paths whose origin answered plain lately: a client's own request for one of them asks the
   * origin for `identity` (the same bytes, through the faster transport). Not for requests the
   * cache makes, whose answers may be stored.
   */
  plainPaths?: { memory: PlainPaths; clock: Clock };
}

/**
 * Forwards the request and returns the origin's response with `X-Upstream-Region`. The cache
 * passes `override` to send a request of its own (a conditional GET, a fill that outlives the
 * client) and to say when the body has been consumed. The path and query sent are the canonical
 * target's (`ctx.target`), byte for byte what routing and authorization saw.
 */
export function forwardToOrigin(
  c: Context<AppEnv>,
  options: ForwardRouteOptions,
  override?: {
    request: Request;
    completed?: Promise<void>;
    /** Another target than the client's (an edge function's `ctx.origin.fetch(path)`). */
    target?: CanonicalTarget;
  },
): Promise<Response> {
  if (override === undefined) {
    return forwardRequest(c.req.raw, c.env.ctx, c.env.completed, options, null);
  }
  return forwardRequest(override.request, c.env.ctx, override.completed, options, {
    target: override.target,
  });
}

/**
 * {@linkcode forwardToOrigin} without a router context: `req` with the request's context,
 * `completed` settling once the response has been delivered. `own` is null for the client's own
 * request, or names what a request the edge made itself is for.
 */
export async function forwardRequest(
  req: Request,
  ctx: EdgeRequestContext,
  completed: Promise<void> | undefined,
  options: ForwardRouteOptions,
  own: { target?: CanonicalTarget } | null,
): Promise<Response> {
  // Unknown and extension methods (WebDAV, M-SEARCH …) are the origin's business: forwarded.
  if (!METHOD.test(req.method)) {
    throw new HttpError(400, `Not a valid method: ${req.method.slice(0, 20)}`, {
      code: "invalid_method",
    });
  }
  if (REFUSED_METHODS.has(req.method.toUpperCase())) throw methodRefused(req.method);
  const target = own?.target ?? ctx.target;
  const reqHeaders = req.headers;
  if (outpostHops(reqHeaders.get("via"), MAX_OUTPOST_HOPS) >= MAX_OUTPOST_HOPS) {
    throw new HttpError(508, "The request looped through Outpost; check the origin URLs", {
      code: "loop_detected",
    });
  }
  const maxBody = options.maxBodyBytes;
  if (maxBody !== undefined && req.body !== null) {
    const declared = reqHeaders.get("content-length");
    if (declared !== null && Number(declared) > maxBody) throw bodyTooLarge(maxBody);
  }
  let acceptEncoding = options.acceptEncoding;
  // What the origin sends each path is observed on every request that asks the client's way;
  // the client's own request (never one whose answer may be stored) to a path the origin sent
  // plain lately asks for identity: the same bytes, through the faster transport.
  let observe: string | null = null;
  const plain = options.plainPaths;
  if (plain !== undefined && acceptEncoding !== "identity") {
    const key = target.authority + target.path;
    if (own === null && plain.memory.isPlain(key, plain.clock.now())) acceptEncoding = "identity";
    else observe = key;
  }
  const headers = upstreamHeaders(reqHeaders, {
    peerIp: ctx.peerIp,
    peerTrusted: ctx.peerTrusted,
    // The canonical authority: an absolute-form target's, never a Host header it overrides.
    host: target.authority,
    proto: ctx.clientProto,
    via: `outpost-${options.region}`,
    requestId: ctx.requestId,
    extra: ctx.originHeaders,
    overrides: options.methodOverrideHeaders,
    method: req.method,
    acceptEncoding,
  });
  const sent = performance.now();
  let result;
  try {
    result = await options.forwarder.forward(req, ctx.geo.ranked(), {
      pathAndQuery: target.path + target.query,
      headers,
      completed,
      maxBodyBytes: maxBody,
      requestId: ctx.requestId,
    });
  } finally {
    ctx.originWaitMs += performance.now() - sent;
  }
  const response = result.response;
  if (observe !== null && headers["accept-encoding"] !== "identity") {
    if (tellsCoding(response.status)) {
      plain!.memory.observe(observe, isCoded(response.headers), plain!.clock.now());
    }
  }
  const upstreamTiming = response.headers.get("server-timing");
  if (upstreamTiming !== null) ctx.timings.push(upstreamTiming);
  ctx.timings.push(`origin;dur=${result.upstreamMs.toFixed(2)};desc="${result.region}"`);
  ctx.upstream = { region: result.region, ms: result.upstreamMs };
  return response;
}

function bodyTooLarge(max: number): HttpError {
  return new HttpError(413, `Request body larger than ${max} bytes`, { code: "body_too_large" });
}

/** A Hono handler forwarding everything it sees. */
export function originProxy(options: ForwardRouteOptions): Handler<AppEnv> {
  return function originProxy(c) {
    return forwardToOrigin(c, options);
  };
}

/** Forwarding to the nearest healthy origin: `/api/*` always, and every path the cache passes on. */

import type { Context, Handler } from "hono";
import type { AppEnv } from "../lib/app_env.ts";
import { HttpError } from "../lib/http/errors.ts";
import type { Forwarder } from "../lib/proxy/forward.ts";
import { outpostHops, upstreamHeaders } from "../lib/proxy/headers.ts";

/** Methods never forwarded: tunnels and request echo have no business passing an edge. */
const REFUSED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
/** Listed in `Allow` when a method is refused (extension methods are forwarded too). */
const ALLOW = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
/** A method is a token (RFC 9110 §9.1); longer than this is not a method anyone uses. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
const MAX_TARGET_LENGTH = 8192;
/** More Outpost hops than this in `Via` means an origin points back at an edge. */
const MAX_OUTPOST_HOPS = 4;

/** Options for {@linkcode forwardToOrigin}. */
export interface ForwardRouteOptions {
  forwarder: Forwarder;
  region: string;
}

/**
 * Forwards the request and returns the origin's response with `X-Upstream-Region`. The cache
 * passes `override` to send a request of its own (a conditional GET, a fill that outlives the
 * client) and to say when the body has been consumed.
 */
export async function forwardToOrigin(
  c: Context<AppEnv>,
  options: ForwardRouteOptions,
  override?: { request: Request; completed?: Promise<void> },
): Promise<Response> {
  const req = override?.request ?? c.req.raw;
  // Unknown and extension methods (WebDAV, M-SEARCH …) are the origin's business: forwarded.
  if (!METHOD.test(req.method)) {
    throw new HttpError(400, `Not a valid method: ${req.method.slice(0, 20)}`, {
      code: "invalid_method",
    });
  }
  if (REFUSED_METHODS.has(req.method.toUpperCase())) {
    throw new HttpError(405, `Method not forwarded: ${req.method}`, {
      code: "method_not_allowed",
      headers: { allow: ALLOW },
    });
  }
  const url = new URL(req.url);
  const pathAndQuery = url.pathname + url.search;
  if (pathAndQuery.length > MAX_TARGET_LENGTH) {
    throw new HttpError(414, `Request target longer than ${MAX_TARGET_LENGTH} characters`, {
      code: "uri_too_long",
    });
  }
  const via = req.headers.get("via");
  if (outpostHops(via) >= MAX_OUTPOST_HOPS) {
    throw new HttpError(508, "The request looped through Outpost; check the origin URLs", {
      code: "loop_detected",
    });
  }
  const ctx = c.env.ctx;
  const headers = upstreamHeaders(req.headers, {
    peerIp: ctx.peerIp,
    peerTrusted: ctx.peerTrusted,
    host: req.headers.get("host"),
    proto: ctx.clientProto,
    via: `outpost-${options.region}`,
    requestId: ctx.requestId,
    extra: ctx.originHeaders,
  });
  const sent = performance.now();
  let result;
  try {
    result = await options.forwarder.forward(req, ctx.geo.ranked(), {
      pathAndQuery,
      headers,
      completed: override ? override.completed : c.env.completed,
    });
  } finally {
    ctx.originWaitMs += performance.now() - sent;
  }
  const own = result.response.headers.get("server-timing");
  if (own !== null) ctx.timings.push(own);
  ctx.timings.push(`origin;dur=${result.upstreamMs.toFixed(2)};desc="${result.region}"`);
  ctx.upstream = { region: result.region, ms: result.upstreamMs };
  return result.response;
}

/** A Hono handler forwarding everything it sees. */
export function originProxy(options: ForwardRouteOptions): Handler<AppEnv> {
  return function originProxy(c) {
    return forwardToOrigin(c, options);
  };
}

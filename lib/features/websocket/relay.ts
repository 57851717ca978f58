/**
 * One WebSocket upgrade on a proxied route: the client's handshake checked, a slot admitted, the
 * origin connected first (with the same forwarding headers as any request: X-Forwarded-*, Via,
 * X-Request-Id, the A/B variant, X-User-Id), and only then the client upgraded and the pair
 * relayed. An origin that refuses is answered with its own response. Neither answer may be
 * stored by the platform's CDN.
 */

import type { Context } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { Clock } from "../../core/clock.ts";
import { HttpError } from "../../platform/http/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { OriginHealth } from "../proxy/breaker.ts";
import type { AttemptOutcome } from "../proxy/forward.ts";
import {
  copyDownstreamHeaders,
  HOP_BY_HOP,
  outpostHops,
  upstreamHeaders,
} from "../proxy/headers.ts";
import { keepOutOfDenoCdn } from "../deploy/cdn.ts";
import { Bridge } from "./bridge.ts";
import type { WebSocketConfig } from "./config.ts";
import { type Dial, type Opened, openUpstream, type Refused } from "./connect.ts";
import { CLOSE } from "./frame.ts";
import type { WebSocketMeters } from "./meters.ts";
import { handshakeFault, type SplitOffer, splitOffer } from "./protocols.ts";

/** More Outpost hops than this in `Via` means an origin points back at an edge. */
const MAX_OUTPOST_HOPS = 4;
/** Largest body of an origin's refusal passed on to the client. */
const MAX_REFUSAL_BYTES = 1024 * 1024;
/** Headers of the origin's 101 that describe the handshake itself, not the application. */
const HANDSHAKE_HEADERS = new Set([
  ...HOP_BY_HOP,
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "date",
]);

/** What {@linkcode relayUpgrade} works with (built once by the feature). */
export interface RelayOptions {
  cfg: WebSocketConfig;
  clock: Clock;
  log: Logger;
  meters: WebSocketMeters;
  region: string;
  maxAttempts: number;
  health: OriginHealth;
  dial: Dial;
  onAttempt?: (attempt: AttemptOutcome) => void;
  /** Takes a slot for `userKey` (throws 429/503 when none is left); returns its release. */
  admit(userKey: string): () => void;
  track(bridge: Bridge): void;
  untrack(bridge: Bridge): void;
}

/** Relays the upgrade request in `c`; answers the 101, the origin's refusal, or a problem. */
export async function relayUpgrade(c: Context<AppEnv>, o: RelayOptions): Promise<Response> {
  const req = c.req.raw;
  const ctx = c.env.ctx;
  const fault = handshakeFault(req.method, req.headers);
  if (fault !== null) {
    o.meters.upgrade("bad_request");
    throw new HttpError(fault.status, fault.detail, {
      code: fault.code,
      headers: fault.status === 426 ? { "sec-websocket-version": "13" } : {},
    });
  }
  if (outpostHops(req.headers.get("via"), MAX_OUTPOST_HOPS) >= MAX_OUTPOST_HOPS) {
    throw new HttpError(508, "The request looped through Outpost; check the origin URLs", {
      code: "loop_detected",
    });
  }
  // Without authorization in front, the token subprotocol is taken out here (else it already is).
  let offer: SplitOffer;
  try {
    offer = splitOffer(req.headers.get("sec-websocket-protocol"), o.cfg.tokenProtocolPrefix);
  } catch (error) {
    o.meters.upgrade("bad_request");
    throw new HttpError(400, (error as Error).message, { code: "bad_websocket_protocol" });
  }
  const protocols = offer.protocols;
  const release = o.admit(ctx.userId ? `user:${ctx.userId}` : `ip:${ctx.clientIp ?? "unknown"}`);
  let handedOver = false;
  try {
    // A Headers for the handshake's edits (the proxy's forwards take the record as it is).
    const headers = new Headers(upstreamHeaders(req.headers, {
      peerIp: ctx.peerIp,
      peerTrusted: ctx.peerTrusted,
      host: ctx.target.authority,
      proto: ctx.clientProto,
      via: `outpost-${o.region}`,
      requestId: ctx.requestId,
      extra: ctx.originHeaders,
      method: "GET",
    }));
    headers.delete("sec-websocket-protocol");
    if (protocols.length > 0) headers.set("sec-websocket-protocol", protocols.join(", "));
    if (offer.token !== null && !headers.has("authorization")) {
      headers.set("authorization", `Bearer ${offer.token}`);
    }
    const sent = performance.now();
    let result: Opened | Refused;
    try {
      result = await openUpstream(ctx.geo.ranked(), {
        health: o.health,
        dial: o.dial,
        timeoutMs: o.cfg.connectTimeoutMs,
        maxAttempts: o.maxAttempts,
        pathAndQuery: ctx.target.path + ctx.target.query,
        headers,
        protocols,
        maxMessageBytes: o.cfg.maxMessageBytes,
        maxRefusalBytes: MAX_REFUSAL_BYTES,
        log: o.log,
        requestId: ctx.requestId,
        onAttempt: o.onAttempt,
        signal: req.signal,
      });
    } catch (error) {
      o.meters.upgrade("failed");
      throw error;
    } finally {
      ctx.originWaitMs += performance.now() - sent;
    }
    ctx.timings.push(`origin;dur=${result.ms.toFixed(2)};desc="${result.target.name}"`);
    ctx.upstream = { region: result.target.name, ms: result.ms };
    if (result.kind === "refused") {
      o.meters.upgrade("refused");
      return refusalResponse(result);
    }
    const response = upgradeClient(c, result, o, release);
    handedOver = true;
    o.meters.upgrade("opened");
    return response;
  } finally {
    if (!handedOver) release();
  }
}

/** Upgrades the client now that the origin has accepted, and starts relaying. */
function upgradeClient(
  c: Context<AppEnv>,
  opened: Opened,
  o: RelayOptions,
  release: () => void,
): Response {
  const ctx = c.env.ctx;
  // The upgrade must be made on the very object Deno.serve gave, not on a routed copy.
  const original = c.env.raw ?? c.req.raw;
  let upgrade: Deno.WebSocketUpgrade;
  try {
    upgrade = Deno.upgradeWebSocket(original, {
      protocol: opened.protocol === "" ? undefined : opened.protocol,
      idleTimeout: Math.ceil(o.cfg.pingIntervalMs / 1000),
    });
  } catch (error) {
    opened.socket.sendClose(CLOSE.goingAway, "The client's upgrade failed");
    opened.socket.flushed().finally(() => opened.socket.close());
    o.log.warn("client upgrade failed after the origin accepted", {
      request_id: ctx.requestId,
      error,
    });
    throw new HttpError(400, "The request cannot be upgraded to a WebSocket", {
      code: "bad_websocket_handshake",
    });
  }
  const started = o.clock.now();
  const bridge: Bridge = new Bridge(
    upgrade.socket,
    opened.socket,
    {
      userKey: ctx.userId ? `user:${ctx.userId}` : `ip:${ctx.clientIp ?? "unknown"}`,
      region: opened.target.name,
    },
    {
      maxMessageBytes: o.cfg.maxMessageBytes,
      maxBufferedBytes: o.cfg.maxBufferedBytes,
      closeTimeoutMs: o.cfg.closeTimeoutMs,
      clock: o.clock,
      meters: o.meters,
      onEnd(end) {
        release();
        o.untrack(bridge);
        o.meters.ended(end);
        o.log.debug("websocket closed", {
          request_id: ctx.requestId,
          region: opened.target.name,
          initiator: end.initiator,
          code: end.code,
          edge_reason: end.edgeReason,
          open_ms: o.clock.now() - started,
        });
      },
      onError(message, error) {
        o.log.error(`websocket ${message}`, { request_id: ctx.requestId, error });
      },
    },
  );
  o.track(bridge);
  const res = upgrade.response;
  // The application's headers of the origin's 101 (cookies, for one) reach the client too.
  for (const [name, value] of clientHeaders(opened.head.headers)) {
    if (!HANDSHAKE_HEADERS.has(name)) res.headers.append(name, value);
  }
  res.headers.set("x-upstream-region", opened.target.name);
  return keepOutOfDenoCdn(res);
}

/** An origin's response headers without hop-by-hop ones (those its `Connection` names too). */
function clientHeaders(origin: Headers): Headers {
  const out = new Headers();
  copyDownstreamHeaders(origin, out);
  return out;
}

/** The origin's own answer to the upgrade, as it gave it (hop-by-hop headers aside). */
function refusalResponse(r: Refused): Response {
  const { status, statusText, headers } = r.head;
  const empty = status === 204 || status === 304 || r.body.length === 0;
  const res = new Response(empty ? null : r.body as Uint8Array<ArrayBuffer>, {
    status,
    statusText,
  });
  for (const [name, value] of clientHeaders(headers)) {
    if (name !== "content-length") res.headers.append(name, value);
  }
  res.headers.set("x-upstream-region", r.target.name);
  return keepOutOfDenoCdn(res);
}

/**
 * Opening the origin side of a WebSocket: the ranked origins tried in order (as the forwarder
 * does: the same circuit breakers, never the same server twice, failover on connection errors
 * and on a 502/503/504 answer), each with a plain TCP or TLS connection, the upgrade request and
 * its answer read within one time limit. What comes back is an open socket, or the response of an
 * origin that refused the upgrade; anything else is a 502/503/504 problem with no address in it.
 */

import { HttpError } from "../../platform/http/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { OriginHealth } from "../proxy/breaker.ts";
import type { AttemptOutcome, ForwardTarget } from "../proxy/forward.ts";
import {
  BadResponse,
  checkSwitch,
  newKey,
  parseHead,
  readBody,
  type ResponseHead,
  upgradeRequest,
} from "./handshake.ts";
import { ByteReader } from "./reader.ts";
import { UpstreamSocket } from "./upstream.ts";

/** Where and how to reach an origin for a WebSocket. */
export interface Endpoint {
  secure: boolean;
  /** Host name or address to connect to (an IPv6 address without brackets). */
  hostname: string;
  port: number;
  /** The `Host` header: the origin URL's authority. */
  host: string;
  /** The origin URL's path prefix (`""` or `/base`). */
  prefix: string;
  /** `scheme://host:port`: two regions on one server are one origin to failover. */
  server: string;
}

/** A connection to an origin (`Deno.Conn` fits). */
export interface OriginConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** Opens a connection to an endpoint (replaceable in tests). */
export type Dial = (endpoint: Endpoint) => Promise<OriginConn>;

/** Where a WebSocket to `origin` connects; null for origins without a socket (`internal://`). */
export function endpointOf(origin: string): Endpoint | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const secure = url.protocol === "https:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return {
    secure,
    hostname,
    port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
    host: url.host,
    prefix: url.pathname === "/" ? "" : url.pathname.replace(/\/+$/, ""),
    server: url.origin,
  };
}

/** Plain TCP, or TLS speaking HTTP/1.1 (the only version with an Upgrade). */
export const dial: Dial = async (ep) => {
  if (ep.secure) {
    return await Deno.connectTls({
      hostname: ep.hostname,
      port: ep.port,
      alpnProtocols: ["http/1.1"],
    });
  }
  const conn = await Deno.connect({ hostname: ep.hostname, port: ep.port });
  // Messages are written whole: waiting to fill a segment would only add latency.
  conn.setNoDelay(true);
  return conn;
};

/** What {@linkcode openUpstream} needs. */
export interface OpenOptions {
  health: OriginHealth;
  dial: Dial;
  /** Time for the connection, the request and the origin's response head, per attempt. */
  timeoutMs: number;
  maxAttempts: number;
  /** The canonical path and query. */
  pathAndQuery: string;
  /** The forwarding headers (the handshake adds its own). */
  headers: Headers;
  /** The subprotocols offered to the origin. */
  protocols: readonly string[];
  maxMessageBytes: number;
  /** Largest body of a refusal passed on to the client. */
  maxRefusalBytes: number;
  log: Logger;
  requestId: string;
  onAttempt?: (attempt: AttemptOutcome) => void;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
}

/** The origin accepted: its socket, the subprotocol it chose and its 101's headers. */
export interface Opened {
  kind: "open";
  socket: UpstreamSocket;
  protocol: string;
  head: ResponseHead;
  target: ForwardTarget;
  ms: number;
}

/** The origin answered something else: passed on as it is. */
export interface Refused {
  kind: "refused";
  head: ResponseHead;
  body: Uint8Array;
  target: ForwardTarget;
  ms: number;
}

const RETRY_STATUSES = new Set([502, 503, 504]);
const MAX_HEAD_BYTES = 32 * 1024;

class Timeout extends Error {
  constructor(ms: number) {
    super(`No answer within ${ms} ms`);
    this.name = "Timeout";
  }
}

/**
 * One attempt's time limit. Past it the attempt fails with `Timeout`, and its connection (now, or
 * when a slow connect completes) is closed, which also ends a read in progress.
 */
class Deadline {
  expired = false;
  readonly promise: Promise<never>;
  #conn: OriginConn | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number) {
    this.promise = new Promise<never>((_, reject) => {
      this.#timer = setTimeout(() => {
        this.expired = true;
        this.#conn?.close();
        reject(new Timeout(ms));
      }, ms);
    });
    this.promise.catch(() => {});
  }

  /** Puts `conn` under the deadline (closed at once when it has passed). */
  hold(conn: OriginConn): void {
    if (this.expired) conn.close();
    else this.#conn = conn;
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

/** One attempt: connect, send the upgrade, read the answer's head (skipping interim ones). */
async function attempt(
  ep: Endpoint,
  o: OpenOptions,
  key: string,
  deadline: Deadline,
): Promise<{ conn: OriginConn; reader: ByteReader; head: ResponseHead }> {
  const conn = await o.dial(ep);
  deadline.hold(conn);
  try {
    await writeAll(conn, upgradeRequest(ep.prefix + o.pathAndQuery, ep.host, o.headers, key));
    // Small enough for many idle sockets; payloads larger than it are read straight to their place.
    const reader = new ByteReader(conn, 16 * 1024);
    // Interim answers other than 101 (a 100 Continue, a 103 Early Hints) come before the real one.
    for (let i = 0; i < 8; i++) {
      const bytes = await reader.readHead(MAX_HEAD_BYTES);
      if (bytes === null) throw new Error("Connection closed before a response");
      const head = parseHead(bytes);
      if (head.status === 101 || head.status >= 200) return { conn, reader, head };
    }
    throw new BadResponse("Too many interim responses");
  } catch (error) {
    try {
      conn.close();
    } catch {
      // closed by the deadline already
    }
    throw error;
  }
}

async function writeAll(conn: OriginConn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(ms)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Reads the body of a refusal; a body that cannot be passed on whole is a 502. */
async function refusal(
  conn: OriginConn,
  reader: ByteReader,
  answer: Omit<Refused, "kind" | "body">,
  o: OpenOptions,
): Promise<Refused> {
  try {
    // On a timeout the connection is closed below, which ends the read.
    const body = await withTimeout(readBody(reader, answer.head, o.maxRefusalBytes), o.timeoutMs);
    return { kind: "refused", body, ...answer };
  } catch (error) {
    o.log.warn("websocket origin refusal could not be read", {
      request_id: o.requestId,
      region: answer.target.name,
      error: describe(error),
    });
    throw new HttpError(
      502,
      "The origin refused the upgrade with an answer that cannot be passed on",
      {
        code: "origin_bad_response",
      },
    );
  } finally {
    conn.close();
  }
}

/**
 * Opens a WebSocket to the first origin of `targets` that accepts it, or returns the refusal of
 * the last one that answered. Throws `HttpError` 502 (`origin_unreachable`, `origin_bad_handshake`
 * or `websocket_origin_unsupported`), 503 (`origins_unavailable`) or 504 (`origin_timeout`).
 */
export async function openUpstream(
  targets: readonly ForwardTarget[],
  o: OpenOptions,
): Promise<Opened | Refused> {
  const { health } = o;
  const candidates = targets
    .map((t) => ({ target: t, ep: endpointOf(t.origin) }))
    .filter((c): c is { target: ForwardTarget; ep: Endpoint } => c.ep !== null);
  if (candidates.length === 0) {
    throw new HttpError(502, "The origin does not accept WebSocket connections", {
      code: "websocket_origin_unsupported",
    });
  }
  const allOut = candidates.every((c) => !health.isAvailable(c.target.origin));
  const tried = new Set<string>();
  const attempts: AttemptOutcome[] = [];
  let lastRefusal: Refused | null = null;
  let lastTimedOut = false;
  for (const { target, ep } of candidates) {
    if (attempts.length >= o.maxAttempts) break;
    if (tried.has(ep.server)) continue;
    const admitted = allOut ? health.tryProbe(target.origin) : health.tryAcquire(target.origin);
    if (!admitted) continue;
    tried.add(ep.server);
    if (o.signal?.aborted) {
      health.release(target.origin);
      throw new HttpError(499, "The client closed the request", { code: "client_closed" });
    }
    const key = newKey();
    const started = performance.now();
    let result;
    const deadline = new Deadline(o.timeoutMs);
    try {
      result = await Promise.race([attempt(ep, o, key, deadline), deadline.promise]);
    } catch (error) {
      const durationMs = performance.now() - started;
      const timedOut = deadline.expired;
      const message = describe(error);
      health.failure(target.origin, message);
      const a: AttemptOutcome = {
        region: target.name,
        origin: target.origin,
        outcome: timedOut ? "timeout" : "network_error",
        error: message,
        durationMs,
      };
      attempts.push(a);
      o.onAttempt?.(a);
      o.log.warn("websocket origin attempt failed", {
        request_id: o.requestId,
        region: target.name,
        origin: target.origin,
        error: message,
      });
      lastTimedOut = timedOut;
      continue;
    } finally {
      deadline.clear();
    }
    const ms = performance.now() - started;
    const { conn, reader, head } = result;
    const retry = RETRY_STATUSES.has(head.status);
    const a: AttemptOutcome = {
      region: target.name,
      origin: target.origin,
      outcome: retry ? "bad_gateway_status" : "ok",
      status: head.status,
      durationMs: ms,
    };
    attempts.push(a);
    o.onAttempt?.(a);
    // An answer is an answer: the origin is reachable, whatever it said.
    health.success(target.origin);
    if (head.status !== 101) {
      const answer = await refusal(conn, reader, { head, target, ms }, o);
      // A 502/503/504 is the origin's own failure: the next origin may do better.
      if (!retry) return answer;
      lastRefusal = answer;
      continue;
    }
    let protocol: string;
    try {
      protocol = await checkSwitch(head, key, o.protocols);
    } catch (error) {
      conn.close();
      o.log.warn("websocket origin answered a bad handshake", {
        request_id: o.requestId,
        region: target.name,
        origin: target.origin,
        error: describe(error),
      });
      throw new HttpError(502, "The origin answered the upgrade with an invalid handshake", {
        code: "origin_bad_handshake",
      });
    }
    const socket = new UpstreamSocket(conn, reader, { maxMessageBytes: o.maxMessageBytes });
    return { kind: "open", socket, protocol, head, target, ms };
  }
  if (lastRefusal) return lastRefusal;
  if (attempts.length === 0) {
    throw new HttpError(503, "Every origin is out of rotation after repeated failures", {
      code: "origins_unavailable",
      headers: { "retry-after": "1" },
    });
  }
  // Regions and outcomes only: addresses and socket errors stay in the log lines above.
  throw new HttpError(
    lastTimedOut ? 504 : 502,
    lastTimedOut ? `No origin answered within ${o.timeoutMs} ms` : "No origin could be reached",
    {
      code: lastTimedOut ? "origin_timeout" : "origin_unreachable",
      extensions: {
        attempts: attempts.map(({ region, outcome, status }) => ({ region, outcome, status })),
      },
    },
  );
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}

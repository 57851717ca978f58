/**
 * The client's side of the opening handshake: recognising an upgrade, validating it before any
 * origin is contacted, and taking a bearer token out of `Sec-WebSocket-Protocol` (browsers cannot
 * set `Authorization` on a WebSocket, so the token travels as a subprotocol `bearer.<token>`; it
 * is never offered to the origin nor chosen in the answer).
 */

import { hasToken } from "./handshake.ts";

/** An HTTP token (RFC 9110 §5.6.2): what a subprotocol name must be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A `Sec-WebSocket-Key`: 16 bytes in base64. */
const KEY = /^[A-Za-z0-9+/]{22}==$/;
/** Most subprotocols a client may offer. */
const MAX_PROTOCOLS = 32;

/** Whether `headers` ask for a WebSocket (`Upgrade: websocket`). */
export function wantsWebSocket(headers: Headers): boolean {
  const upgrade = headers.get("upgrade");
  return upgrade !== null && hasToken(upgrade, "websocket");
}

/** What is wrong with a client's handshake: the status and code to answer, and why. */
export interface HandshakeFault {
  status: 400 | 426;
  code: string;
  detail: string;
}

/** Checks what `Deno.upgradeWebSocket` and RFC 6455 §4.2.1 require; null when it is valid. */
export function handshakeFault(method: string, headers: Headers): HandshakeFault | null {
  const fault = (detail: string): HandshakeFault => ({
    status: 400,
    code: "bad_websocket_handshake",
    detail,
  });
  if (method !== "GET") return fault(`A WebSocket upgrade must be a GET: ${method.slice(0, 20)}`);
  if (!hasToken(headers.get("connection"), "upgrade")) {
    return fault("Connection: Upgrade is missing");
  }
  const version = headers.get("sec-websocket-version");
  if (version?.trim() !== "13") {
    return {
      status: 426,
      code: "unsupported_websocket_version",
      detail: `Only WebSocket version 13 is supported: ${(version ?? "none").slice(0, 20)}`,
    };
  }
  const key = headers.get("sec-websocket-key");
  if (key === null || !KEY.test(key.trim())) return fault("Invalid Sec-WebSocket-Key");
  return null;
}

/** The subprotocols in a `Sec-WebSocket-Protocol` value, in order; a `RangeError` if invalid. */
export function parseProtocols(value: string | null): string[] {
  if (value === null || value.trim() === "") return [];
  const out = value.split(",").map((p) => p.trim());
  if (out.length > MAX_PROTOCOLS) {
    throw new RangeError(`More than ${MAX_PROTOCOLS} subprotocols offered`);
  }
  for (const p of out) {
    if (!TOKEN.test(p)) throw new RangeError(`Invalid subprotocol: ${p.slice(0, 40)}`);
  }
  return out;
}

/** A client's offer split into the bearer token (if any) and the subprotocols for the origin. */
export interface SplitOffer {
  token: string | null;
  protocols: string[];
}

/**
 * Takes the token subprotocol (`<prefix><token>`) out of an offer; `prefix` `""` takes none.
 * Throws a `RangeError` for an invalid list, an empty token or more than one token.
 */
export function splitOffer(value: string | null, prefix: string): SplitOffer {
  const offered = parseProtocols(value);
  if (prefix === "") return { token: null, protocols: offered };
  let token: string | null = null;
  const protocols: string[] = [];
  for (const p of offered) {
    if (!p.startsWith(prefix)) {
      protocols.push(p);
      continue;
    }
    if (token !== null) throw new RangeError("More than one token subprotocol offered");
    token = p.slice(prefix.length);
    if (token === "") throw new RangeError(`Empty token subprotocol: ${prefix}`);
  }
  return { token, protocols };
}

/**
 * The edge's opening handshake with an origin, as plain HTTP/1.1 on a socket it opened (RFC 6455
 * §4.1): the upgrade request with the edge's forwarding headers, the origin's response head, the
 * `Sec-WebSocket-Accept` check, and the body of an origin that answered with anything but 101
 * (so the client gets what the origin said).
 */

import { type ByteReader, joinBytes } from "./reader.ts";

/** The GUID of RFC 6455 §1.3 that `Sec-WebSocket-Accept` is derived with. */
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Request headers the edge writes itself on the origin's handshake. */
const OWN_HEADERS = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-accept",
  // No extension is offered: the edge relays messages, and compression would be per hop.
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
  "accept-encoding",
]);

function encodeBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** A fresh `Sec-WebSocket-Key`: 16 random bytes in base64. */
export function newKey(): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
}

/** The `Sec-WebSocket-Accept` a server must answer `key` with. */
export async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + WS_GUID));
  return encodeBase64(new Uint8Array(digest));
}

/**
 * The upgrade request: `GET target HTTP/1.1`, `Host`, the upgrade headers with `key`, then
 * `headers` (the forwarding set) minus those the handshake owns. `target` must be a request
 * target already made canonical (no space or control character); anything else throws.
 */
export function upgradeRequest(
  target: string,
  host: string,
  headers: Headers,
  key: string,
): Uint8Array {
  if (!/^\/[\x21-\x7e]*$/.test(target)) throw new TypeError("Invalid request target");
  if (!/^[\x21-\x7e]+$/.test(host)) throw new TypeError("Invalid host");
  let head = `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  // A Headers object never holds CR or LF in a value, so nothing here can split the head.
  for (const [name, value] of headers) {
    if (!OWN_HEADERS.has(name)) head += `${name}: ${value}\r\n`;
  }
  return new TextEncoder().encode(head + "\r\n");
}

/** An origin's response head. */
export interface ResponseHead {
  status: number;
  statusText: string;
  headers: Headers;
}

/** A response no HTTP/1.1 server sends; the origin answered, but not in a form to pass on. */
export class BadResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadResponse";
  }
}

/** Parses a response head (status line and header fields, through the blank line). */
export function parseHead(bytes: Uint8Array): ResponseHead {
  const text = new TextDecoder("latin1").decode(bytes);
  const lines = text.slice(0, -4).split("\r\n");
  const m = /^HTTP\/1\.[01] ([1-5]\d\d)(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new BadResponse(`Invalid status line: ${lines[0].slice(0, 60)}`);
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    // Obsolete line folding (RFC 9112 §5.2) and nameless fields are refused, not guessed at.
    if (colon <= 0 || line[0] === " " || line[0] === "\t") {
      throw new BadResponse(`Invalid header line: ${line.slice(0, 60)}`);
    }
    try {
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    } catch {
      throw new BadResponse(`Invalid header: ${line.slice(0, colon).slice(0, 60)}`);
    }
  }
  return { status: Number(m[1]), statusText: m[2] ?? "", headers };
}

/** Whether a comma-separated header holds `token` (case-insensitive). */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  return value.split(",").some((t) => t.trim().toLowerCase() === token);
}

/**
 * Checks a 101 against the request: `Upgrade`, `Connection`, the accept value for `key`, a
 * subprotocol among `offered` (or none), and no extension. Answers the subprotocol the origin
 * chose (`""` for none), or throws {@linkcode BadResponse} naming what is wrong.
 */
export async function checkSwitch(
  head: ResponseHead,
  key: string,
  offered: readonly string[],
): Promise<string> {
  const h = head.headers;
  if (!hasToken(h.get("upgrade"), "websocket")) throw new BadResponse("101 without Upgrade");
  if (!hasToken(h.get("connection"), "upgrade")) throw new BadResponse("101 without Connection");
  if (h.get("sec-websocket-accept") !== await acceptFor(key)) {
    throw new BadResponse("Wrong Sec-WebSocket-Accept");
  }
  if (h.get("sec-websocket-extensions")) {
    throw new BadResponse("Extension accepted that was not offered");
  }
  const protocol = h.get("sec-websocket-protocol")?.trim() ?? "";
  if (protocol !== "" && !offered.includes(protocol)) {
    throw new BadResponse("Subprotocol chosen that was not offered");
  }
  return protocol;
}

const DECIMAL = /^\d{1,15}$/;
const HEX = /^[0-9a-fA-F]{1,8}$/;

/**
 * The body of a response that refused the upgrade, read whole (at most `max` bytes) by its
 * framing: `Content-Length`, chunked, or until the origin closes. Throws {@linkcode BadResponse}
 * for broken framing or a body past `max`.
 */
export async function readBody(
  reader: ByteReader,
  head: ResponseHead,
  max: number,
): Promise<Uint8Array> {
  const { status, headers } = head;
  if (status < 200 || status === 204 || status === 304) return new Uint8Array(0);
  const te = headers.get("transfer-encoding");
  if (te !== null) {
    if (te.trim().toLowerCase() !== "chunked") {
      throw new BadResponse(`Unsupported Transfer-Encoding: ${te.slice(0, 40)}`);
    }
    return await readChunked(reader, max);
  }
  const cl = headers.get("content-length");
  if (cl !== null) {
    if (!DECIMAL.test(cl.trim())) throw new BadResponse(`Invalid Content-Length: ${cl}`);
    const n = Number(cl.trim());
    if (n > max) throw new BadResponse(`Body larger than ${max} bytes`);
    const body = await reader.readExact(n);
    if (body === null) throw new BadResponse("Body shorter than its Content-Length");
    return body;
  }
  try {
    return await reader.readToEnd(max);
  } catch (error) {
    throw new BadResponse((error as Error).message);
  }
}

async function readLine(reader: ByteReader): Promise<string> {
  while (true) {
    const view = reader.peek();
    const lf = view.indexOf(10);
    if (lf >= 0) {
      const line = new TextDecoder("latin1").decode(view.subarray(0, lf)).replace(/\r$/, "");
      reader.skip(lf + 1);
      return line;
    }
    if (view.length > 4096) throw new BadResponse("Chunk line too long");
    if (!await reader.fill()) throw new BadResponse("Body ended inside a chunk line");
  }
}

async function readChunked(reader: ByteReader, max: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const size = (await readLine(reader)).split(";")[0].trim();
    if (!HEX.test(size)) throw new BadResponse(`Invalid chunk size: ${size.slice(0, 20)}`);
    const n = parseInt(size, 16);
    if (n === 0) break;
    total += n;
    if (total > max) throw new BadResponse(`Body larger than ${max} bytes`);
    const chunk = await reader.readExact(n);
    if (chunk === null) throw new BadResponse("Body ended inside a chunk");
    parts.push(chunk);
    if ((await readLine(reader)) !== "") throw new BadResponse("Chunk not followed by CRLF");
  }
  // Trailer fields end at an empty line; they are dropped.
  for (let i = 0; i < 64; i++) if ((await readLine(reader)) === "") break;
  return parts.length === 0 ? new Uint8Array(0) : joinBytes(parts, total);
}

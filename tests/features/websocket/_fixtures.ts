/**
 * Fixtures for the WebSocket tests: real sockets on port 0 (framing is the point). An origin
 * that records every request and plays a part per path, a client that queues what it receives,
 * and raw TCP peers that complete a handshake and then stop reading.
 */

import { acceptFor } from "../../../lib/features/websocket/handshake.ts";
import { ByteReader } from "../../../lib/features/websocket/reader.ts";
import { UpstreamSocket } from "../../../lib/features/websocket/upstream.ts";

/** One request as the origin received it. */
export interface SeenRequest {
  path: string;
  headers: Record<string, string>;
}

/** What the origin does with an accepted socket at a path. */
export type SocketPart = (socket: WebSocket, req: Request) => void;

/** A WebSocket origin on port 0. */
export interface WsOrigin extends AsyncDisposable {
  url: string;
  port: number;
  /** Every request, upgrades and others, in order. */
  seen: SeenRequest[];
  /** Sockets the origin accepted, in order. */
  sockets: WebSocket[];
}

/** Echoes every message; `close:<code>:<reason>` makes it close with that code and reason. */
function echo(socket: WebSocket): void {
  socket.binaryType = "arraybuffer";
  socket.onmessage = (e) => {
    if (typeof e.data === "string" && e.data.startsWith("close:")) {
      const [, code, reason] = e.data.split(":");
      if (code === "") socket.close();
      else socket.close(Number(code), reason);
    } else socket.send(e.data);
  };
}

/** How the origin's sockets ended, in order of acceptance (code, reason). */
export function closeOf(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve({ code: -1, reason: "" });
    socket.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }));
  });
}

/**
 * Starts an origin: `/refuse` answers 403 with a body, `…/events` streams server-sent events, a
 * request without an upgrade gets a cacheable `plain`; every other upgrade is accepted (choosing
 * the first offered subprotocol, setting a cookie) and runs `parts[path]` or an echo. With
 * `options.status`, every request is answered with that status instead.
 */
export function startWsOrigin(
  parts: Record<string, SocketPart> = {},
  options: { status?: number } = {},
): WsOrigin {
  const seen: SeenRequest[] = [];
  const sockets: WebSocket[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) headers[k] = v;
    seen.push({ path: url.pathname + url.search, headers });
    if (options.status !== undefined) {
      return new Response(`status ${options.status}`, { status: options.status });
    }
    if (url.pathname === "/refuse") {
      return new Response("no sockets for you", {
        status: 403,
        headers: { "content-type": "text/plain", "x-origin": "refused" },
      });
    }
    if (url.pathname.endsWith("/events")) {
      return sse(url);
    }
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("plain", {
        headers: { "content-type": "text/plain", "cache-control": "public, max-age=60" },
      });
    }
    const offered = req.headers.get("sec-websocket-protocol")?.split(",").map((p) => p.trim());
    const { socket, response } = Deno.upgradeWebSocket(req, {
      protocol: offered?.[0],
      idleTimeout: 0,
    });
    sockets.push(socket);
    (parts[url.pathname] ?? echo)(socket, req);
    response.headers.set("set-cookie", "session=abc; Path=/");
    return response;
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    seen,
    sockets,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) {
        try {
          s.close();
        } catch {
          // already closed
        }
      }
      await server.shutdown();
    },
  };
}

/** Server-sent events that go on only when told: `/events?id=<n>` waits for `release(n)`. */
const sseGates = new Map<string, () => void>();

/** Lets the event stream `id` send its second event. */
export function releaseEvents(id: string): void {
  sseGates.get(id)?.();
}

function sse(url: URL): Response {
  const id = url.searchParams.get("id") ?? "0";
  const gate = new Promise<void>((resolve) => sseGates.set(id, resolve));
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(enc.encode("event: hello\ndata: first\n\n"));
      await gate;
      controller.enqueue(enc.encode("event: hello\ndata: second\n\n"));
      controller.close();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}

/** A client socket whose messages and close are queued for the test to await. */
export interface TestClient {
  socket: WebSocket;
  opened: Promise<void>;
  /** The next message (strings and ArrayBuffers as received). */
  next(): Promise<string | ArrayBuffer>;
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * Deno's `WebSocket` constructor with its options object (headers included); the type checker
 * may see the DOM's narrower one when a browser file is in the same check.
 */
const DenoWebSocket = WebSocket as unknown as new (
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> },
) => WebSocket;

/** Opens a WebSocket to `url` (http URLs are turned into ws), with extra handshake headers. */
export function connect(
  url: string,
  protocols?: string[],
  headers?: Record<string, string>,
): TestClient {
  const socket = new DenoWebSocket(url.replace(/^http/, "ws"), { protocols, headers });
  socket.binaryType = "arraybuffer";
  const queue: Array<string | ArrayBuffer> = [];
  const waiting: Array<(v: string | ArrayBuffer) => void> = [];
  socket.onmessage = (e) => {
    const w = waiting.shift();
    if (w) w(e.data);
    else queue.push(e.data);
  };
  const opened = new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = (e) => reject(new Error((e as ErrorEvent).message ?? "error"));
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.onclose = (e) => resolve({ code: e.code, reason: e.reason });
  });
  return {
    socket,
    opened,
    next: () => {
      const v = queue.shift();
      return v !== undefined ? Promise.resolve(v) : new Promise((r) => waiting.push(r));
    },
    closed,
  };
}

/** A raw HTTP/1.1 upgrade: the response head and the connection (still open). */
export interface RawUpgrade {
  status: number;
  headers: Headers;
  conn: Deno.TcpConn;
  reader: ByteReader;
}

/** Sends an upgrade request by hand to `url` + `path` and reads the response head. */
export async function rawUpgrade(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawUpgrade> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  let head = `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
    `Sec-WebSocket-Version: 13\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  await conn.write(new TextEncoder().encode(head + "\r\n"));
  const reader = new ByteReader(conn);
  const bytes = await reader.readHead(64 * 1024);
  if (bytes === null) throw new Error("no response");
  const text = new TextDecoder().decode(bytes);
  const lines = text.trim().split("\r\n");
  const out = new Headers();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    out.append(line.slice(0, i), line.slice(i + 1).trim());
  }
  return { status: Number(lines[0].split(" ")[1]), headers: out, conn, reader };
}

/** A raw origin: it completes every handshake by hand, then plays `part` (default: nothing). */
export interface RawOrigin extends AsyncDisposable {
  url: string;
  /** Resolves when a handshake has been answered. */
  accepted: Promise<void>;
}

/**
 * What a raw origin does after its 101: `socket` is the server's side of the framing (frames
 * unmasked unless `maskFrames`), over the same connection. Without a part it never reads: a
 * stalled origin.
 */
export type RawPart = (socket: UpstreamSocket) => void | Promise<void>;

/** Starts a {@linkcode RawOrigin}. */
export function startRawOrigin(part?: RawPart, options: { maskFrames?: boolean } = {}): RawOrigin {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let accept!: () => void;
  const accepted = new Promise<void>((r) => accept = r);
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      const reader = new ByteReader(conn);
      const head = await reader.readHead(64 * 1024);
      if (head === null) continue;
      const key = /sec-websocket-key: *(\S+)/i.exec(new TextDecoder().decode(head))?.[1] ?? "";
      await conn.write(
        new TextEncoder().encode(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${await acceptFor(key)}\r\n\r\n`,
        ),
      );
      accept();
      const socket = new UpstreamSocket(conn, reader, {
        maxMessageBytes: 64 * 1024 * 1024,
        allowMasked: true,
        mask: options.maskFrames ?? false,
      });
      Promise.resolve(part?.(socket)).catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    accepted,
    [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      return Promise.resolve();
    },
  };
}

/** Waits until `check` holds, polling (the condition, never a duration, is what is asserted). */
export async function until(check: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Gave up waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

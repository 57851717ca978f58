/**
 * A `fetch` for forwarding that hands encoded bodies over as the origin sent them.
 *
 * Deno's global `fetch` decodes gzip and br response bodies unless the request's
 * `Accept-Encoding` is exactly `identity` (checked on Deno 2.9.6: `gzip;q=0`, `identity;q=1` and
 * `zstd` all still decode), and has no option to stop it (denoland/deno#12291); it also keeps
 * the `Content-Encoding` and `Content-Length` of the body it decoded (denoland/deno#35124). A proxy that asks its origin for gzip must therefore not read the answer
 * through it. This transport speaks HTTP/1.1 through `node:http`/`node:https`, which never
 * decodes; `encodedFetch` (encoded_fetch.ts) sends only requests that ask for a coding through it
 * and keeps the global fetch (faster, HTTP/2) for the rest, and loads this module on the first
 * such request (`node:http` would load the Node compatibility layer at start-up).
 */

import http from "node:http";
import https from "node:https";

/** Idle keep-alive connections are closed after this (below common origin idle timeouts). */
const IDLE_MS = 4000;
const encoder = new TextEncoder();

/** Bodies of a known length up to this are read whole before the response is handed over. */
const BUFFER_MAX = 64 * 1024;

/** Statuses whose responses have no body. */
const NULL_BODY = new Set([204, 205, 304]);

/** Methods sent again after a stale keep-alive connection (never one that may not repeat). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/** Network errors worth one retry on a fresh connection when a reused one was found closed. */
const STALE_SOCKET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

function requestParts(input: RequestInfo | URL, init: RequestInit | undefined): {
  url: URL;
  method: string;
  headers: Headers;
  body: BodyInit | null;
  signal: AbortSignal | null;
} {
  const req = input instanceof Request ? input : null;
  return {
    url: new URL(req ? req.url : String(input)),
    method: (init?.method ?? req?.method ?? "GET").toUpperCase(),
    headers: new Headers(init?.headers ?? req?.headers),
    body: init?.body ?? req?.body ?? null,
    signal: init?.signal ?? req?.signal ?? null,
  };
}

function bodyBytes(body: BodyInit | null): Uint8Array | ReadableStream<Uint8Array> | null {
  if (body === null || body === undefined) return null;
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof ReadableStream) return body as ReadableStream<Uint8Array>;
  throw new TypeError(
    `Unsupported request body for forwarding: ${Object.prototype.toString.call(body)}`,
  );
}

/** The origin's body as a web stream, with back-pressure; a premature close is an error. */
function webBody(res: http.IncomingMessage, done: () => void): ReadableStream<Uint8Array> {
  let settled = false;
  const settle = () => {
    if (settled) return false;
    settled = true;
    done();
    return true;
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      res.on("data", (chunk: Uint8Array) => {
        if (settled) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) res.pause();
      });
      res.on("end", () => {
        if (settle()) controller.close();
      });
      res.on("error", (error: Error) => {
        if (settle()) controller.error(error);
      });
      res.on("close", () => {
        if (settle()) {
          controller.error(new Error("The origin closed the connection before the body ended"));
        }
      });
    },
    pull() {
      res.resume();
    },
    cancel() {
      settle();
      res.destroy();
    },
  });
}

async function pump(stream: ReadableStream<Uint8Array>, out: http.ClientRequest): Promise<void> {
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!out.write(value)) await new Promise((resolve) => out.once("drain", resolve));
    }
    out.end();
  } catch (error) {
    out.destroy(error as Error);
  } finally {
    reader.releaseLock();
  }
}

/** Options of {@linkcode rawFetch}. */
export interface RawFetchOptions {
  /** Connections kept open per origin (default unlimited, as the global fetch). */
  maxSockets?: number;
}

/** A `fetch` over `node:http(s)` that never decodes bodies (HTTP/1.1, keep-alive). */
export function rawFetch(options: RawFetchOptions = {}): typeof fetch {
  const agentOptions = { keepAlive: true, timeout: IDLE_MS, maxSockets: options.maxSockets };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

  function send(
    parts: ReturnType<typeof requestParts>,
    bytes: Uint8Array | ReadableStream<Uint8Array> | null,
    retried: boolean,
  ): Promise<Response> {
    const { url, method, signal } = parts;
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const tls = url.protocol === "https:";
      if (!tls && url.protocol !== "http:") {
        return reject(new TypeError(`Url scheme '${url.protocol.slice(0, -1)}' not supported`));
      }
      const headers: Record<string, string> = {};
      parts.headers.forEach((value, name) => {
        if (name !== "host") headers[name] = value;
      });
      if (bytes instanceof Uint8Array) headers["content-length"] = String(bytes.byteLength);
      else if (bytes === null && method !== "GET" && method !== "HEAD") {
        headers["content-length"] = "0";
      }
      let request: http.ClientRequest;
      try {
        request = (tls ? https : http).request(url, {
          method,
          headers,
          agent: tls ? agents.https : agents.http,
        });
      } catch (error) {
        return reject(new TypeError((error as Error).message, { cause: error }));
      }
      let answered = false;
      let aborted = false;
      // Deno's node:http sends a request destroyed on a reused keep-alive connection again on a
      // new one (checked on 2.9.6): that socket is closed as soon as it is assigned, or the
      // origin would go on working for nobody.
      request.on("socket", (socket: { destroy(): void; setNoDelay(on: boolean): void }) => {
        if (aborted) socket.destroy();
        // Requests are written whole: waiting for more to send (Nagle) only adds latency.
        else socket.setNoDelay(true);
      });
      const onAbort = () => {
        aborted = true;
        const reason = signal!.reason;
        request.destroy(reason instanceof Error ? reason : new Error(String(reason)));
        if (!answered) reject(reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const release = () => signal?.removeEventListener("abort", onAbort);
      request.on("error", (error: Error & { code?: string }) => {
        if (answered || signal?.aborted) return;
        answered = true;
        release();
        // A kept-alive connection the origin closed while idle: once more on a fresh one, when
        // the request can be sent again.
        if (
          !retried && request.reusedSocket && STALE_SOCKET.has(error.code ?? "") &&
          IDEMPOTENT.has(method) && !(bytes instanceof ReadableStream)
        ) {
          resolve(send(parts, bytes, true));
          return;
        }
        reject(
          new TypeError(`error sending request for url (${url.href}): ${error.message}`, {
            cause: error,
          }),
        );
      });
      request.on("response", (res: http.IncomingMessage) => {
        answered = true;
        const status = res.statusCode ?? 0;
        let headers: Headers;
        try {
          headers = new Headers();
          const raw = res.rawHeaders;
          for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
        } catch (error) {
          res.destroy();
          release();
          reject(new TypeError(`Invalid response from ${url.origin}: ${(error as Error).message}`));
          return;
        }
        const init = { status, statusText: res.statusMessage ?? "", headers };
        const make = (body: BodyInit | null) => {
          try {
            resolve(new Response(body, init));
          } catch (error) {
            res.destroy();
            reject(
              new TypeError(`Invalid response from ${url.origin}: ${(error as Error).message}`),
            );
          }
        };
        if (method === "HEAD" || NULL_BODY.has(status)) {
          res.resume();
          release();
          return make(null);
        }
        // A small body of known length is read whole: handed to Deno.serve as bytes it is sent
        // without a JS stream pump, which costs more than the wait for a few kilobytes.
        const length = Number(headers.get("content-length") ?? NaN);
        if (!(length >= 0 && length <= BUFFER_MAX)) return make(webBody(res, release));
        const parts: Uint8Array[] = [];
        let size = 0;
        res.on("data", (chunk: Uint8Array) => {
          parts.push(chunk);
          size += chunk.byteLength;
        });
        res.on("end", () => {
          release();
          const body = new Uint8Array(size);
          let offset = 0;
          for (const p of parts) {
            body.set(p, offset);
            offset += p.byteLength;
          }
          if (size !== length) {
            reject(new TypeError(`The origin sent ${size} of ${length} bytes`));
            return;
          }
          make(body);
        });
        res.on("error", (error: Error) => {
          release();
          reject(new TypeError(`The origin's body failed: ${error.message}`, { cause: error }));
        });
        res.on("close", () => {
          if (!res.complete) {
            release();
            reject(new TypeError("The origin closed the connection before the body ended"));
          }
        });
      });
      if (bytes instanceof ReadableStream) void pump(bytes, request);
      else request.end(bytes ?? undefined);
    });
  }

  return function rawFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    let parts: ReturnType<typeof requestParts>;
    let bytes: Uint8Array | ReadableStream<Uint8Array> | null;
    try {
      parts = requestParts(input, init);
      bytes = bodyBytes(parts.body);
    } catch (error) {
      return Promise.reject(error);
    }
    return send(parts, bytes, false);
  };
}

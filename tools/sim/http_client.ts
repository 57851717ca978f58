/**
 * A small HTTP/1.1 client over raw TCP for the simulator's users: it times a request from the
 * connection attempt to the last body byte, and it either opens a fresh connection per request
 * (`Connection: close`) or reuses one kept-alive connection per target. `fetch` would hide both
 * the handshake and its pool.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF2 = [13, 10, 13, 10];

/** A request the simulator sends. */
export interface SimRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** A response with its timing. */
export interface SimResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** From just before connecting (or reusing a connection) to the last body byte. */
  ms: number;
  /** True when the request went on a new TCP connection. */
  connected: boolean;
}

function indexOfSeq(buf: Uint8Array, seq: readonly number[], from = 0): number {
  outer: for (let i = from; i <= buf.length - seq.length; i++) {
    for (let j = 0; j < seq.length; j++) if (buf[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

/** One TCP connection with a read buffer. */
class Connection {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #eof = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  /** Reads more bytes into the buffer; false at end of stream. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) {
      this.#eof = true;
      return false;
    }
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  #take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  async readUntil(seq: readonly number[]): Promise<Uint8Array> {
    let at: number;
    while ((at = indexOfSeq(this.#buf, seq)) < 0) {
      if (!(await this.#fill())) throw new Error("Connection closed before the response headers");
    }
    const out = this.#take(at);
    this.#take(seq.length);
    return out;
  }

  async readExactly(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.#fill())) throw new Error(`Connection closed ${n} bytes into a body`);
    }
    return this.#take(n);
  }

  async readToEnd(): Promise<Uint8Array> {
    while (await this.#fill()) {
      // keep reading
    }
    return this.#take(this.#buf.length);
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

async function readChunked(conn: Connection): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  while (true) {
    const line = decoder.decode(await conn.readUntil([13, 10]));
    const size = parseInt(line.split(";")[0].trim(), 16);
    if (!Number.isFinite(size)) throw new Error(`Bad chunk size: ${line.slice(0, 40)}`);
    if (size === 0) {
      // Trailers end with an empty line.
      while ((await conn.readUntil([13, 10])).length > 0) {
        // skip a trailer
      }
      break;
    }
    parts.push(await conn.readExactly(size));
    await conn.readExactly(2);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

async function exchange(
  conn: Connection,
  host: string,
  req: SimRequest,
  keepAlive: boolean,
): Promise<{ status: number; headers: Headers; body: Uint8Array; reusable: boolean }> {
  const method = req.method ?? "GET";
  const body = req.body === undefined ? undefined : encoder.encode(req.body);
  const lines = [`${method} ${req.path} HTTP/1.1`, `host: ${host}`];
  lines.push(`connection: ${keepAlive ? "keep-alive" : "close"}`);
  for (const [k, v] of Object.entries(req.headers ?? {})) lines.push(`${k}: ${v}`);
  if (body) lines.push(`content-length: ${body.length}`);
  const head = encoder.encode(lines.join("\r\n") + "\r\n\r\n");
  await conn.write(body ? concat(head, body) : head);

  const text = decoder.decode(await conn.readUntil(CRLF2));
  const [statusLine, ...headerLines] = text.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  if (!Number.isInteger(status)) throw new Error(`Bad status line: ${statusLine.slice(0, 80)}`);
  const headers = new Headers();
  for (const line of headerLines) {
    const i = line.indexOf(":");
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  let payload: Uint8Array;
  let reusable = keepAlive && headers.get("connection")?.toLowerCase() !== "close";
  if (method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    payload = new Uint8Array(0);
  } else if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
    payload = await readChunked(conn);
  } else if (headers.has("content-length")) {
    payload = await conn.readExactly(Number(headers.get("content-length")));
  } else {
    payload = await conn.readToEnd();
    reusable = false;
  }
  return { status, headers, body: payload, reusable };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Options for {@linkcode SimClient}. */
export interface SimClientOptions {
  /** Reuse one idle connection per target (default: a fresh connection per request). */
  keepAlive?: boolean;
  /** A request not answered within this is abandoned (its connection closed; default 30 s). */
  timeoutMs?: number;
}

/** A user's HTTP client: same behaviour for every target it talks to. */
export class SimClient {
  #keepAlive: boolean;
  #timeoutMs: number;
  #idle = new Map<number, Connection[]>();

  constructor(options: SimClientOptions = {}) {
    this.#keepAlive = options.keepAlive ?? false;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Sends `req` to `127.0.0.1:port` and reads the whole response. */
  async request(port: number, req: SimRequest): Promise<SimResponse> {
    const started = performance.now();
    let conn = this.#keepAlive ? this.#idle.get(port)?.pop() : undefined;
    const connected = conn === undefined;
    if (!conn) {
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
      tcp.setNoDelay(true);
      conn = new Connection(tcp);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      conn.close();
    }, this.#timeoutMs);
    try {
      const res = await exchange(conn, `127.0.0.1:${port}`, req, this.#keepAlive);
      const ms = performance.now() - started;
      clearTimeout(timer);
      if (res.reusable) {
        const idle = this.#idle.get(port) ?? [];
        idle.push(conn);
        this.#idle.set(port, idle);
      } else {
        conn.close();
      }
      return { status: res.status, headers: res.headers, body: res.body, ms, connected };
    } catch (error) {
      clearTimeout(timer);
      conn.close();
      if (timedOut) throw new Error(`No answer within ${this.#timeoutMs} ms`);
      // An idle connection the server had closed (so are the others, likely): retry once fresh.
      if (!connected) {
        for (const c of this.#idle.get(port) ?? []) c.close();
        this.#idle.delete(port);
        return await this.request(port, req);
      }
      throw error;
    }
  }

  /** Closes idle connections. */
  close(): void {
    for (const list of this.#idle.values()) for (const c of list) c.close();
    this.#idle.clear();
  }
}

/** The body as text. */
export function bodyText(res: SimResponse): string {
  return decoder.decode(res.body);
}

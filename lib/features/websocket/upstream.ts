/**
 * The edge's WebSocket to an origin, over the connection it opened and upgraded itself: messages
 * in (fragments assembled, control frames answered by the caller, a size limit checked from the
 * frame header before any payload is read) and frames out through one write queue whose size is
 * the socket's `bufferedAmount`. Reading happens only when asked, so a caller that stops asking
 * stops the origin by TCP flow control.
 */

import {
  applyMask,
  CLOSE,
  closePayload,
  encodeFrame,
  FrameError,
  OP,
  parseClosePayload,
  parseFrameHeader,
} from "./frame.ts";
import { type ByteReader, joinBytes } from "./reader.ts";

/** One message or control frame from the origin. */
export type UpstreamMessage =
  | { type: "text"; data: string; bytes: number }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number | undefined; reason: string };

/** What the socket writes to and closes (`Deno.Conn` fits). */
export interface Writable {
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** Options of an {@linkcode UpstreamSocket}. */
export interface UpstreamSocketOptions {
  /** Largest message accepted (a 1009 `FrameError` past it, before its payload is read). */
  maxMessageBytes: number;
  /** Accept masked frames (only tests play the server's part with this codec). */
  allowMasked?: boolean;
  /** Mask outgoing frames (the client's part: true, the default). */
  mask?: boolean;
}

/** Most bytes joined into one write when small frames queue up. */
const COALESCE_BYTES = 64 * 1024;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Masking keys drawn from the system's CSPRNG in batches (RFC 6455 §10.3 wants them unpredictable). */
class MaskPool {
  #pool = new Uint8Array(0);
  #at = 0;

  next(): Uint8Array {
    if (this.#at + 4 > this.#pool.length) {
      this.#pool = crypto.getRandomValues(new Uint8Array(4096));
      this.#at = 0;
    }
    const mask = this.#pool.subarray(this.#at, this.#at + 4);
    this.#at += 4;
    return mask;
  }
}

const masks = new MaskPool();

/** A client-side WebSocket over an upgraded connection. */
export class UpstreamSocket {
  readonly #conn: Writable;
  readonly #reader: ByteReader;
  readonly #o: Required<UpstreamSocketOptions>;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing: Promise<void> | null = null;
  #writeError: unknown = null;
  #closed = false;
  #fragments: Uint8Array[] = [];
  #fragmentOp = 0;
  #fragmentBytes = 0;

  constructor(conn: Writable, reader: ByteReader, options: UpstreamSocketOptions) {
    this.#conn = conn;
    this.#reader = reader;
    this.#o = { allowMasked: false, mask: true, ...options };
  }

  /** Bytes queued for the origin and not yet written to the connection. */
  get bufferedAmount(): number {
    return this.#queued;
  }

  /** The error that stopped writing, if any (the queue is then dropped). */
  get writeError(): unknown {
    return this.#writeError;
  }

  /** Whether the connection has been closed by {@linkcode UpstreamSocket.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues a text message (a string, or its UTF-8 bytes); answers its size in bytes (0 when the
   * socket can no longer write).
   */
  sendText(text: string | Uint8Array): number {
    return this.#send(OP.text, typeof text === "string" ? encoder.encode(text) : text);
  }

  /** Queues a binary message. */
  sendBinary(data: Uint8Array): number {
    return this.#send(OP.binary, data);
  }

  /** Queues a ping. */
  sendPing(data: Uint8Array = new Uint8Array(0)): number {
    return this.#send(OP.ping, data.subarray(0, 125));
  }

  /** Queues a pong (answering a ping with its payload). */
  sendPong(data: Uint8Array): number {
    return this.#send(OP.pong, data.subarray(0, 125));
  }

  /** Queues a close frame: `code` undefined sends one without a status. */
  sendClose(code: number | undefined, reason = ""): number {
    return this.#send(OP.close, closePayload(code, reason));
  }

  /** Queues raw bytes already framed (only tests use it, to send what a broken peer would). */
  sendRaw(bytes: Uint8Array): number {
    return this.#enqueue(bytes.slice());
  }

  #send(opcode: number, payload: Uint8Array): number {
    const frame = encodeFrame(opcode, payload, this.#o.mask ? masks.next() : null);
    return this.#enqueue(frame) === 0 ? 0 : payload.length;
  }

  #enqueue(frame: Uint8Array): number {
    if (this.#closed || this.#writeError !== null) return 0;
    this.#queue.push(frame);
    this.#queued += frame.length;
    this.#writing ??= this.#drain();
    return frame.length;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        let chunk = this.#queue[0];
        let count = 1;
        if (this.#queue.length > 1 && chunk.length < COALESCE_BYTES) {
          let size = chunk.length;
          while (count < this.#queue.length && size + this.#queue[count].length <= COALESCE_BYTES) {
            size += this.#queue[count++].length;
          }
          if (count > 1) {
            chunk = new Uint8Array(size);
            let at = 0;
            for (let i = 0; i < count; i++) {
              chunk.set(this.#queue[i], at);
              at += this.#queue[i].length;
            }
          }
        }
        let written = 0;
        while (written < chunk.length) written += await this.#conn.write(chunk.subarray(written));
        if (this.#closed) return;
        this.#queue.splice(0, count);
        this.#queued -= chunk.length;
      }
    } catch (error) {
      if (!this.#closed) this.#writeError = error;
      this.#queue = [];
      this.#queued = 0;
    } finally {
      this.#writing = null;
    }
  }

  /** Settles when everything queued has been written (or writing failed). */
  async flushed(): Promise<void> {
    while (this.#writing !== null) await this.#writing;
  }

  /** Closes the connection (after nothing, or after `flushed()` for a clean close). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer or by a failed write
    }
  }

  /**
   * The next message or control frame; null when the connection ends (a clean end after a
   * close frame, or an abnormal one without). Throws {@linkcode FrameError} when the origin
   * breaks the protocol or sends a message over the limit.
   */
  async receive(): Promise<UpstreamMessage | null> {
    const reader = this.#reader;
    while (true) {
      let header = parseFrameHeader(reader.peek());
      while (header === null) {
        if (!await reader.fill()) return null;
        header = parseFrameHeader(reader.peek());
      }
      if (header.rsv !== 0) throw new FrameError(CLOSE.protocolError, "RSV bit set");
      if (header.masked && !this.#o.allowMasked) {
        throw new FrameError(CLOSE.protocolError, "Masked frame from the server");
      }
      const mask = header.masked
        ? reader.peek().slice(header.headerLength - 4, header.headerLength)
        : null;
      const op = header.opcode;
      if (op < OP.close && this.#fragmentBytes + header.length > this.#o.maxMessageBytes) {
        throw new FrameError(
          CLOSE.messageTooBig,
          `Message larger than ${this.#o.maxMessageBytes} bytes`,
        );
      }
      reader.skip(header.headerLength);
      const payload = await reader.readExact(header.length);
      if (payload === null) return null;
      if (mask) applyMask(payload, mask);
      switch (op) {
        case OP.ping:
          return { type: "ping", data: payload };
        case OP.pong:
          return { type: "pong", data: payload };
        case OP.close:
          return { type: "close", ...parseClosePayload(payload) };
        case OP.continuation: {
          if (this.#fragmentOp === 0) {
            throw new FrameError(CLOSE.protocolError, "Continuation without a message");
          }
          this.#fragments.push(payload);
          this.#fragmentBytes += payload.length;
          if (!header.fin) continue;
          const data = joinBytes(this.#fragments, this.#fragmentBytes);
          const type = this.#fragmentOp;
          this.#fragments = [];
          this.#fragmentOp = 0;
          this.#fragmentBytes = 0;
          return message(type, data);
        }
        default: {
          if (this.#fragmentOp !== 0) {
            throw new FrameError(CLOSE.protocolError, "New message inside a fragmented one");
          }
          if (header.fin) return message(op, payload);
          this.#fragmentOp = op;
          this.#fragments = [payload];
          this.#fragmentBytes = payload.length;
        }
      }
    }
  }
}

function message(op: number, data: Uint8Array): UpstreamMessage {
  if (op === OP.binary) return { type: "binary", data };
  try {
    return { type: "text", data: strictUtf8.decode(data), bytes: data.length };
  } catch {
    throw new FrameError(CLOSE.invalidPayload, "Text message is not UTF-8");
  }
}

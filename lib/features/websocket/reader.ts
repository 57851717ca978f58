/**
 * Buffered reads from a connection: an HTTP response head up to its blank line, then exact byte
 * counts (frame headers, payloads). Nothing is read from the connection until asked, so a caller
 * that stops asking stops the peer (TCP flow control does the rest).
 */

/** What the reader pulls bytes from (`Deno.Conn` fits). */
export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

const CRLFCRLF = [13, 10, 13, 10];

/** `parts` as one array of `total` bytes (the part itself when there is one). */
export function joinBytes(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A read-ahead buffer over a {@linkcode ByteSource}. */
export class ByteReader {
  readonly #source: ByteSource;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #eof = false;

  constructor(source: ByteSource, bufferSize = 64 * 1024) {
    this.#source = source;
    this.#buf = new Uint8Array(bufferSize);
  }

  /** Bytes read ahead and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** The unconsumed bytes (a view, valid until the next call). */
  peek(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Marks `n` buffered bytes as consumed. */
  skip(n: number): void {
    if (n > this.buffered) throw new RangeError(`Cannot skip ${n} of ${this.buffered} bytes`);
    this.#start += n;
  }

  /** Reads once more from the source; false at the end of the stream. */
  async fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#buf.length - this.#end < Math.min(4096, this.#buf.length >> 2)) {
      // Little room left: move the unconsumed tail to the front, or grow when it fills the buffer.
      const live = this.#end - this.#start;
      const target = live * 2 > this.#buf.length ? new Uint8Array(this.#buf.length * 2) : this.#buf;
      target.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = target;
      this.#start = 0;
      this.#end = live;
    }
    const n = await this.#source.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /**
   * The bytes up to and including the first blank line (`\r\n\r\n`), consumed; null when the
   * stream ends first. Throws a `RangeError` past `max` bytes.
   */
  async readHead(max: number): Promise<Uint8Array | null> {
    let scanned = 0;
    while (true) {
      const view = this.peek();
      for (let i = Math.max(0, scanned - 3); i + 3 < view.length; i++) {
        if (
          view[i] === CRLFCRLF[0] && view[i + 1] === CRLFCRLF[1] &&
          view[i + 2] === CRLFCRLF[2] && view[i + 3] === CRLFCRLF[3]
        ) {
          const head = view.slice(0, i + 4);
          this.skip(i + 4);
          return head;
        }
      }
      scanned = view.length;
      if (scanned > max) throw new RangeError(`Response head larger than ${max} bytes`);
      if (!await this.fill()) return null;
    }
  }

  /** Ensures at least `n` bytes are buffered; false when the stream ends first. */
  async want(n: number): Promise<boolean> {
    while (this.buffered < n) {
      if (!await this.fill()) return false;
    }
    return true;
  }

  /** Exactly `n` bytes, copied and consumed; null when the stream ends first. */
  async readExact(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let have = Math.min(n, this.buffered);
    out.set(this.#buf.subarray(this.#start, this.#start + have));
    this.#start += have;
    // Large payloads are read straight into their destination, not through the buffer.
    while (have < n) {
      if (this.#eof) return null;
      const got = await this.#source.read(out.subarray(have));
      if (got === null) {
        this.#eof = true;
        return null;
      }
      have += got;
    }
    return out;
  }

  /** Everything until the end of the stream, at most `max` bytes (a `RangeError` past it). */
  async readToEnd(max: number): Promise<Uint8Array> {
    while (await this.fill()) {
      if (this.buffered > max) throw new RangeError(`Body larger than ${max} bytes`);
    }
    if (this.buffered > max) throw new RangeError(`Body larger than ${max} bytes`);
    const out = this.peek().slice();
    this.skip(out.length);
    return out;
  }
}

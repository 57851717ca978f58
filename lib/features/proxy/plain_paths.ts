/**
 * Paths whose origin answered a client that takes compressed bodies with a plain one, lately.
 *
 * A request that asks for a content coding must go through the `node:http` transport (the global
 * fetch decodes gzip and br, see `raw_fetch.ts`), which costs several times what the global
 * fetch does. When the origin sent that path plain the last time it was asked the client's way,
 * asking it for `identity` gives the client the same bytes through the faster transport. Each
 * entry runs out after `ttlMs`, and the path is then asked the client's way again: an origin that
 * starts compressing is noticed within that time. One bounded map per isolate.
 */

/** Options of {@linkcode PlainPaths}. */
export interface PlainPathsOptions {
  /** How long one plain answer counts for its path (0: never ask for identity instead). */
  ttlMs: number;
  /** Paths remembered at most (about 100 bytes each); the map is cleared when it is full. */
  maxEntries: number;
}

/** What the origin of each path sent lately (keys: authority + path, without the query). */
export class PlainPaths {
  readonly #until = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(options: PlainPathsOptions) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
  }

  /** Paths remembered now (some may have run out and not been looked at since). */
  get size(): number {
    return this.#until.size;
  }

  /** True when `key`'s origin sent a plain body to a coding-accepting request within the TTL. */
  isPlain(key: string, now: number): boolean {
    if (this.#until.size === 0) return false;
    const until = this.#until.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#until.delete(key);
    return false;
  }

  /**
   * Records what the origin sent a request that accepted a coding: `coded` when the answer had
   * a `Content-Encoding` (the path is then asked the client's way until it answers plain again).
   */
  observe(key: string, coded: boolean, now: number): void {
    if (coded || this.#ttlMs <= 0) {
      this.#until.delete(key);
      return;
    }
    if (this.#until.size >= this.#maxEntries && !this.#until.has(key)) this.#until.clear();
    this.#until.set(key, now + this.#ttlMs);
  }
}

/**
 * Whether a response tells something about the path's coding: a body (or, for HEAD, the fields
 * of one) from a successful or error answer; `204`, `304` and `1xx` say nothing.
 */
export function tellsCoding(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

/** Whether a response's `Content-Encoding` names a coding (anything but none or `identity`). */
export function isCoded(headers: Headers): boolean {
  const coding = headers.get("content-encoding");
  return coding !== null && coding.trim() !== "" && coding.trim().toLowerCase() !== "identity";
}

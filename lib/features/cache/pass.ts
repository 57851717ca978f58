/**
 * Hit-for-pass (Varnish's idea): a URL whose origin just answered with something the cache may
 * not store (`no-store`, `private`, `Set-Cookie` …) is remembered for a short while, and its next
 * requests go straight to the origin: no memory or KV lookup, no lease, no waiting on another
 * request's fill (whose answer could not be shared anyway). One bounded map per isolate.
 */

/** Storage refusals that say something about the URL rather than about one request. */
const MARKING_REASONS: ReadonlySet<string> = new Set([
  "no-store",
  "private",
  "set-cookie",
  "vary-star",
  "must-understand",
]);

/** URLs to pass, each until an instant (ms). */
export class PassMarks {
  readonly #until = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(options: { ttlMs: number; maxEntries: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
  }

  /** Whether a storage refusal for this reason marks the URL. */
  static marks(reason: string): boolean {
    return MARKING_REASONS.has(reason);
  }

  /** URLs marked now (some may have expired and not been looked at since). */
  get size(): number {
    return this.#until.size;
  }

  /**
   * Marks `urlKey` from `now` for the configured time (0: hit-for-pass is off). A mark with more
   * than half its time left is left as it is: every pass renews its URL's mark, and rewriting a
   * long-lived map on every request keeps what passes through it from dying young.
   */
  mark(urlKey: string, now: number): void {
    if (this.#ttlMs <= 0 || this.#maxEntries <= 0) return;
    const until = this.#until.get(urlKey);
    if (until !== undefined && until - now > this.#ttlMs / 2) return;
    this.#until.delete(urlKey); // re-inserted last: the map's order is the order of marking
    this.#until.set(urlKey, now + this.#ttlMs);
    if (this.#until.size > this.#maxEntries) {
      this.#until.delete(this.#until.keys().next().value!);
    }
  }

  /** Whether requests for `urlKey` pass at `now`. */
  has(urlKey: string, now: number): boolean {
    if (this.#until.size === 0) return false;
    const until = this.#until.get(urlKey);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#until.delete(urlKey);
    return false;
  }

  /** Forgets a URL (its origin answered something storable, or it was purged here). */
  forget(urlKey: string): void {
    this.#until.delete(urlKey);
  }
}

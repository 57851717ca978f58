/** Single-flight: at most one fill per key runs in this isolate; later requests wait for it. */

/** Fills in flight, by memory key. */
export class Flights<T> {
  readonly #running = new Map<string, Promise<T>>();

  /** Fills running now. */
  get size(): number {
    return this.#running.size;
  }

  /** Joins the fill running for `key`, or runs `start()` as its leader. */
  async run(key: string, start: () => Promise<T>): Promise<{ result: T; leader: boolean }> {
    const existing = this.#running.get(key);
    if (existing) return { result: await existing, leader: false };
    const p = start();
    this.#running.set(key, p);
    try {
      return { result: await p, leader: true };
    } finally {
      if (this.#running.get(key) === p) this.#running.delete(key);
    }
  }

  /** Starts a fill in the background unless one runs for `key`; null when one does. */
  start(key: string, start: () => Promise<T>): Promise<T> | null {
    if (this.#running.has(key)) return null;
    const p = start();
    this.#running.set(key, p);
    const clear = () => {
      if (this.#running.get(key) === p) this.#running.delete(key);
    };
    p.then(clear, clear);
    return p;
  }
}

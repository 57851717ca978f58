/**
 * The KV the node holds: a handle that forwards to the store open now, so a store opened late
 * replaces the stand-in for every holder, and the stand-in itself, whose every operation fails
 * with a 503 problem.
 */

import { HttpError } from "../../platform/http/errors.ts";

/** What a KV operation throws while no store is open (a 503 problem wherever it surfaces). */
export class KvUnavailableError extends HttpError {
  constructor() {
    super(503, "No Deno KV database is available to this node yet; try again later", {
      code: "kv_unavailable",
      headers: { "retry-after": "5" },
    });
    this.name = "KvUnavailableError";
  }
}

function fail(): Promise<never> {
  return Promise.reject(new KvUnavailableError());
}

/** An atomic operation that builds like any other and fails on commit. */
function unavailableAtomic(): Deno.AtomicOperation {
  const op = {
    check: () => op,
    mutate: () => op,
    sum: () => op,
    min: () => op,
    max: () => op,
    set: () => op,
    delete: () => op,
    enqueue: () => op,
    commit: fail,
  };
  return op as unknown as Deno.AtomicOperation;
}

/** A list whose first step fails. */
function unavailableList(): Deno.KvListIterator<never> {
  const iterator = {
    get cursor(): string {
      throw new KvUnavailableError();
    },
    next: fail,
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator as unknown as Deno.KvListIterator<never>;
}

/** A `Deno.Kv` whose every operation fails with {@linkcode KvUnavailableError}. */
export function unavailableKv(): Deno.Kv {
  const kv = {
    get: fail,
    getMany: fail,
    set: fail,
    delete: fail,
    list: unavailableList,
    enqueue: fail,
    listenQueue: fail,
    atomic: unavailableAtomic,
    watch: () =>
      new ReadableStream({
        start(controller) {
          controller.error(new KvUnavailableError());
        },
      }),
    close() {},
    commitVersionstamp: () => Symbol("kv_unavailable"),
    [Symbol.dispose]() {},
  };
  return kv as unknown as Deno.Kv;
}

/**
 * A `Deno.Kv` that forwards every call to the store it holds now, so a store opened late (after
 * a failed start) replaces the stand-in for everything that was handed the handle.
 */
export class KvHandle {
  #current: Deno.Kv;

  constructor(initial: Deno.Kv) {
    this.#current = initial;
  }

  /** The handle as the `Deno.Kv` the rest of the node takes. */
  asKv(): Deno.Kv {
    return this as unknown as Deno.Kv;
  }

  /** Replaces the store; the previous one is closed. */
  swap(next: Deno.Kv): void {
    const previous = this.#current;
    this.#current = next;
    previous.close();
  }

  get: Deno.Kv["get"] = (key, options) => this.#current.get(key, options);
  getMany: Deno.Kv["getMany"] = (keys, options) => this.#current.getMany(keys, options);
  set: Deno.Kv["set"] = (key, value, options) => this.#current.set(key, value, options);
  delete: Deno.Kv["delete"] = (key) => this.#current.delete(key);
  list: Deno.Kv["list"] = (selector, options) => this.#current.list(selector, options);
  enqueue: Deno.Kv["enqueue"] = (value, options) => this.#current.enqueue(value, options);
  listenQueue: Deno.Kv["listenQueue"] = (handler) => this.#current.listenQueue(handler);
  atomic: Deno.Kv["atomic"] = () => this.#current.atomic();
  watch: Deno.Kv["watch"] = (keys, options) => this.#current.watch(keys, options);
  commitVersionstamp: Deno.Kv["commitVersionstamp"] = () => this.#current.commitVersionstamp();
  close(): void {
    this.#current.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A function's KV namespace: string keys under `["functions", "kv", namespace]`, JSON values
 * checked before they are written (plain data only, bounded in depth and size), and
 * `expirationTtl` enforced on read with the injected clock (KV's own `expireIn` is only a lower
 * bound, used here for clean-up).
 */

import type { Clock } from "../../core/clock.ts";
import { functionKvKey, functionKvPrefix } from "./keys.ts";
import type {
  FunctionKv,
  JsonValue,
  KvListEntry,
  KvListOptions,
  KvListPage,
  KvPutOptions,
  KvReadOptions,
} from "./types.ts";

/** Deepest nesting a stored value may have. */
const MAX_VALUE_DEPTH = 64;
/** Longest `expirationTtl`: ten years, in seconds. */
const MAX_TTL_SECONDS = 10 * 365 * 86_400;
const MAX_LIST_LIMIT = 1000;
const MAX_CURSOR_LENGTH = 4096;
/** Above every character a key may hold: the end of a prefix range. */
const KEY_CEILING = "\u{10FFFF}";
// C0 and C1 controls, DEL and U+10FFFF (the prefix ceiling) are not allowed in keys.
const FORBIDDEN_KEY_CHARS = /[\p{Cc}\u{10FFFF}]/u;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** What is stored at a key: the JSON text as UTF-8 and the expiry (ms since the epoch). */
interface StoredValue {
  v: 1;
  e: number | null;
  b: Uint8Array;
}

/** Limits of a namespace (from `functions.kv`). */
export interface KvLimits {
  maxValueBytes: number;
  maxKeyBytes: number;
}

/** Why `value` is not plain JSON data, or null when it is. */
function jsonProblem(value: unknown): string | null {
  function walk(v: unknown, path: string, depth: number): string | null {
    if (v === null || typeof v === "string" || typeof v === "boolean") return null;
    if (typeof v === "number") return Number.isFinite(v) ? null : `${path}: Not a finite number`;
    if (typeof v !== "object") return `${path}: Not JSON: a ${typeof v}`;
    if (depth >= MAX_VALUE_DEPTH) return `${path}: Nested deeper than ${MAX_VALUE_DEPTH} levels`;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) return `${path}[${i}]: Not JSON: a hole in the array`;
        const problem = walk(v[i], `${path}[${i}]`, depth + 1);
        if (problem) return problem;
      }
      return null;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      const name = (v as object).constructor?.name ?? "object";
      return `${path}: Not JSON: a ${name} (only plain objects and arrays)`;
    }
    if (Object.getOwnPropertySymbols(v).length > 0) return `${path}: Not JSON: symbol keys`;
    for (const [k, item] of Object.entries(v)) {
      const problem = walk(item, `${path}.${k}`, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  return walk(value, "value", 0);
}

/** Why `key` cannot be a key (or a prefix when `prefix`), or null. */
export function keyProblem(key: unknown, maxBytes: number, prefix = false): string | null {
  if (typeof key !== "string") return `Key must be a string: ${typeof key}`;
  if (key.length === 0 && !prefix) return "Key must not be empty";
  if (!key.isWellFormed()) return "Key must be well-formed Unicode (no lone surrogates)";
  if (FORBIDDEN_KEY_CHARS.test(key)) return "Key must not contain control characters";
  const bytes = encoder.encode(key).byteLength;
  if (bytes > maxBytes) return `Key longer than ${maxBytes} bytes: ${bytes}`;
  return null;
}

function consistencyOf(options: KvReadOptions | undefined): Deno.KvConsistencyLevel {
  const c = options?.consistency ?? "strong";
  if (c !== "strong" && c !== "eventual") {
    throw new TypeError(`consistency must be strong or eventual: ${String(c)}`);
  }
  return c;
}

function isStored(value: unknown): value is StoredValue {
  const v = value as StoredValue;
  return typeof v === "object" && v !== null && v.v === 1 && v.b instanceof Uint8Array &&
    (v.e === null || typeof v.e === "number");
}

/** One namespace of function KV. */
export class FunctionKvStore implements FunctionKv {
  readonly namespace: string;
  readonly #kv: Deno.Kv;
  readonly #clock: Clock;
  readonly #limits: KvLimits;
  readonly #onCorrupt: (key: string) => void;

  constructor(
    kv: Deno.Kv,
    namespace: string,
    options: { clock: Clock; limits: KvLimits; onCorrupt?: (key: string) => void },
  ) {
    this.#kv = kv;
    this.namespace = namespace;
    this.#clock = options.clock;
    this.#limits = options.limits;
    this.#onCorrupt = options.onCorrupt ?? (() => {});
  }

  async get<T extends JsonValue = JsonValue>(
    key: string,
    options: KvReadOptions = {},
  ): Promise<T | null> {
    this.#checkKey(key);
    const consistency = consistencyOf(options);
    const entry = await this.#kv.get(functionKvKey(this.namespace, key), { consistency });
    return this.#decode(key, entry.value, this.#clock.now()) as T | null;
  }

  async put(key: string, value: JsonValue, options: KvPutOptions = {}): Promise<void> {
    this.#checkKey(key);
    const problem = jsonProblem(value);
    if (problem) throw new TypeError(`Cannot store ${problem}`);
    const ttl = options?.expirationTtl;
    if (ttl !== undefined && !(typeof ttl === "number" && ttl >= 1 && ttl <= MAX_TTL_SECONDS)) {
      throw new RangeError(`expirationTtl must be 1–${MAX_TTL_SECONDS} seconds: ${ttl}`);
    }
    const bytes = encoder.encode(JSON.stringify(value));
    if (bytes.byteLength > this.#limits.maxValueBytes) {
      throw new RangeError(
        `Value larger than ${this.#limits.maxValueBytes} bytes of JSON: ${bytes.byteLength}`,
      );
    }
    const ttlMs = ttl === undefined ? null : Math.round(ttl * 1000);
    const stored: StoredValue = {
      v: 1,
      e: ttlMs === null ? null : this.#clock.now() + ttlMs,
      b: bytes,
    };
    await this.#kv.set(
      functionKvKey(this.namespace, key),
      stored,
      ttlMs === null ? undefined : { expireIn: ttlMs },
    );
  }

  async delete(key: string): Promise<void> {
    this.#checkKey(key);
    await this.#kv.delete(functionKvKey(this.namespace, key));
  }

  async list(options: KvListOptions = {}): Promise<KvListPage> {
    const prefix = options.prefix ?? "";
    const problem = keyProblem(prefix, this.#limits.maxKeyBytes, true);
    if (problem) throw new TypeError(problem.replace("Key", "Prefix"));
    const limit = options.limit ?? 100;
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIST_LIMIT)) {
      throw new RangeError(`limit must be an integer 1–${MAX_LIST_LIMIT}: ${limit}`);
    }
    const cursor = options.cursor;
    if (cursor !== undefined && (typeof cursor !== "string" || cursor.length > MAX_CURSOR_LENGTH)) {
      throw new TypeError("cursor must be the string a previous page returned");
    }
    const base = functionKvPrefix(this.namespace);
    const selector = prefix === ""
      ? { prefix: base }
      : { start: [...base, prefix], end: [...base, prefix + KEY_CEILING] };
    const consistency = consistencyOf(options);
    const iter = this.#kv.list<unknown>(selector, { limit, cursor, consistency });
    const entries: KvListEntry[] = [];
    const now = this.#clock.now();
    let read = 0;
    try {
      for await (const entry of iter) {
        read++;
        const key = entry.key[3];
        if (typeof key !== "string") continue;
        const stored = entry.value;
        if (!isStored(stored)) {
          this.#onCorrupt(key);
          continue;
        }
        if (stored.e !== null && stored.e <= now) continue;
        const value = this.#parse(key, stored);
        if (value !== undefined) entries.push({ key, value, expiresAt: stored.e });
      }
    } catch (error) {
      if (cursor !== undefined && error instanceof Error && /cursor/i.test(error.message)) {
        throw new TypeError("cursor must be the string a previous page returned");
      }
      throw error;
    }
    return { entries, cursor: read === limit ? iter.cursor : null };
  }

  #checkKey(key: string): void {
    const problem = keyProblem(key, this.#limits.maxKeyBytes);
    if (problem) throw new TypeError(problem);
  }

  /** The live value of a read, or null (absent, expired, or not ours to read). */
  #decode(key: string, value: unknown, now: number): JsonValue | null {
    if (value === null || value === undefined) return null;
    if (!isStored(value)) {
      this.#onCorrupt(key);
      return null;
    }
    if (value.e !== null && value.e <= now) return null;
    return this.#parse(key, value) ?? null;
  }

  /** The JSON value of a stored record; undefined (and reported) when it does not parse. */
  #parse(key: string, stored: StoredValue): JsonValue | undefined {
    try {
      return JSON.parse(decoder.decode(stored.b)) as JsonValue;
    } catch {
      this.#onCorrupt(key);
      return undefined;
    }
  }
}

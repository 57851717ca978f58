/**
 * What a function sees: its handler signature and the typed context of one call. Function files
 * import these through `outpost/functions` (see docs/functions.md).
 */

import type { GeoSource } from "../geo/types.ts";

/** A value `ctx.kv` stores: JSON, and nothing that JSON would silently change. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** Options of {@linkcode FunctionKv.put}. */
export interface KvPutOptions {
  /** Seconds until the value expires (at least 1); without it the value stays. */
  expirationTtl?: number;
}

/** How fresh a read must be (Deno KV's read consistency). */
export interface KvReadOptions {
  /**
   * `strong` (default): the latest write, read from KV's primary region. `eventual`: from the
   * nearest replica, faster far from the primary, possibly a little behind.
   */
  consistency?: "strong" | "eventual";
}

/** Options of {@linkcode FunctionKv.list}. */
export interface KvListOptions extends KvReadOptions {
  /** Only keys that start with this string. */
  prefix?: string;
  /** Entries per page, 1–1000 (default 100). */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

/** One listed entry. */
export interface KvListEntry {
  key: string;
  value: JsonValue;
  /** When the value expires (ms since the epoch), or null. */
  expiresAt: number | null;
}

/** A page of {@linkcode FunctionKv.list}, in key order. */
export interface KvListPage {
  entries: KvListEntry[];
  /** Pass as `cursor` for the next page; null when this was the last one. */
  cursor: string | null;
}

/** The function's own KV namespace (other functions and Outpost cannot see it, nor it them). */
export interface FunctionKv {
  /** The value at `key`, or null when absent or expired. */
  get<T extends JsonValue = JsonValue>(key: string, options?: KvReadOptions): Promise<T | null>;
  /** Stores a JSON value (validated; its JSON text at most `functions.kv.maxValueBytes`). */
  put(key: string, value: JsonValue, options?: KvPutOptions): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: KvListOptions): Promise<KvListPage>;
}

/** The edge's shared HTTP cache, under this function's own keys. */
export interface FunctionCache {
  /** A fresh stored response for a GET of `request` (a path or a Request), else undefined. */
  match(request: Request | string): Promise<Response | undefined>;
  /**
   * Stores `response` for a GET of `request` if HTTP caching allows it (status, Cache-Control,
   * Vary, Authorization, Set-Cookie, size); true when stored. The body is read.
   */
  put(request: Request | string, response: Response): Promise<boolean>;
  /** Drops what is stored for `request` (every variant) on every node. */
  delete(request: Request | string): Promise<void>;
}

/** The site's origins, reached like every forwarded request (nearest healthy first, failover). */
export interface FunctionOrigin {
  /** Sends `init` to `path` (`/users/42?x=1`) on the nearest healthy origin. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** Where the client is, as the edge located it. */
export interface FunctionGeo {
  /** ISO 3166-1 alpha-2, upper case, when known. */
  country: string | null;
  location: { lat: number; lon: number } | null;
  /** The configured region nearest to the client (where its origin requests go first). */
  region: string;
  /** The region of the node running this call. */
  servedBy: string;
  /** What the location came from (`cloudflare`, `ip-database`, `default` …). */
  source: GeoSource;
  /** Distance to `region` in km, when the location is known. */
  distanceKm: number | null;
}

/** Who the caller is, when the route is protected by authorization. */
export interface FunctionUser {
  /** The token's `sub`; null for an anonymous caller (with `authz.allowAnonymous`). */
  id: string | null;
  roles: readonly string[];
}

/** An analytics event recorded by `ctx.track`. */
export interface TrackEvent {
  /** 1–64 of `A-Za-z0-9_.:-`. */
  type: string;
  properties?: Record<string, JsonValue>;
  /** Defaults to the authorized user, else a pseudonym of the client address. */
  userId?: string;
}

/** Log lines with the function's name and the request id attached. */
export interface FunctionLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** The context of one call. Everything on it refuses to work once the call's time is up. */
export interface FunctionContext {
  /** The function's name: its file path under the functions folder, without extension. */
  readonly name: string;
  /** The request id (also in `X-Request-Id` and in every problem body). */
  readonly requestId: string;
  /** Path parameters from `[name]` segments of the file name. */
  readonly params: Readonly<Record<string, string>>;
  readonly kv: FunctionKv;
  readonly cache: FunctionCache;
  readonly origin: FunctionOrigin;
  readonly geo: FunctionGeo;
  /** The variant of the first A/B experiment covering this path, or null. */
  readonly variant: string | null;
  /** Every experiment covering this path → its variant. */
  readonly variants: Readonly<Record<string, string>>;
  /** The authorized caller, or null when the route is not protected. */
  readonly user: FunctionUser | null;
  /** Aborted when the client goes away or the call's time is up. */
  readonly signal: AbortSignal;
  /** Records an analytics event; false when this node keeps no analytics. */
  track(event: TrackEvent): boolean;
  readonly log: FunctionLog;
}

/** A function: a Web `Request` in, a `Response` out. */
export type FunctionHandler = (
  req: Request,
  ctx: FunctionContext,
) => Response | Promise<Response>;

/** Per-function settings, exported as `config` from the function's file. */
export interface FunctionOptions {
  /** This function's time limit (default `functions.timeoutMs`). */
  timeoutMs?: number;
  /** The KV namespace and cache scope (default: the function's name); files naming the same one share it. */
  kv?: string;
}

/** What a function file may export. */
export interface FunctionModule {
  /** Answers every method that has no export of its own. */
  default?: FunctionHandler;
  GET?: FunctionHandler;
  HEAD?: FunctionHandler;
  POST?: FunctionHandler;
  PUT?: FunctionHandler;
  PATCH?: FunctionHandler;
  DELETE?: FunctionHandler;
  OPTIONS?: FunctionHandler;
  config?: FunctionOptions;
}

/** The generated `_manifest.ts`: every function file, by name, statically imported. */
export interface FunctionManifest {
  /** The folder the manifest was generated from (project-relative). */
  dir: string;
  functions: Record<string, FunctionModule>;
}

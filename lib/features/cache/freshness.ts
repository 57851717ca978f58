/**
 * The shared cache's decisions as pure functions (RFC 9111, RFC 5861, RFC 9213): may a response
 * be stored, for how long is it fresh, how old is it, and what to do with a stored response
 * when a request arrives. Values in, values out; the I/O around them lives elsewhere.
 */

import { parseHttpDate } from "../../platform/http/http_date.ts";
import {
  MAX_DELTA_SECONDS,
  parseResponseDirectives,
  parseTargetedDirectives,
  type RequestDirectives,
  type ResponseDirectives,
} from "./directives.ts";
import { contentCoding } from "./encoding.ts";

export { parseHttpDate };

/** Status codes a cache may store with heuristic freshness (RFC 9110 §15.1), minus 206. */
const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([
  200,
  203,
  204,
  300,
  301,
  308,
  404,
  405,
  410,
  414,
  501,
]);

/**
 * Status codes whose semantics this cache implements (RFC 9110 §15, minus 206 and 304): the ones
 * `must-understand` lets a cache store despite `no-store` (RFC 9111 §5.2.2.3).
 */
const UNDERSTOOD_STATUSES: ReadonlySet<number> = new Set([
  200,
  201,
  202,
  203,
  204,
  205,
  300,
  301,
  302,
  303,
  307,
  308,
  400,
  401,
  402,
  403,
  404,
  405,
  406,
  407,
  408,
  409,
  410,
  411,
  412,
  413,
  414,
  415,
  416,
  417,
  421,
  422,
  426,
  500,
  501,
  502,
  503,
  504,
  505,
]);

/** Freshness rules from config (per route, defaults merged). All values in seconds. */
export interface FreshnessRules {
  /** Replaces the origin's freshness lifetime for responses that may be stored. */
  ttlSeconds?: number;
  /** Lifetime when the origin gives no explicit one (before heuristics). */
  defaultTtlSeconds?: number;
  /** Replaces the origin's stale-while-revalidate window. */
  staleWhileRevalidateSeconds?: number;
  /** Replaces the origin's stale-if-error window. */
  staleIfErrorSeconds?: number;
  /** Windows used when the origin gives none. */
  defaultStaleWhileRevalidateSeconds: number;
  defaultStaleIfErrorSeconds: number;
  /** Heuristic lifetime: this fraction of the time since Last-Modified, at most the cap. */
  heuristicFraction: number;
  heuristicMaxSeconds: number;
  /** Upper bound on any lifetime or window (an enormous max-age is clamped to it). */
  maxTtlSeconds: number;
  /** How long a stale response with a validator is kept for conditional revalidation. */
  keepStaleSeconds: number;
}

/** What the storage decision needs to know about one exchange. */
export interface ExchangeFacts {
  status: number;
  /** Response header lookup by lower-case name. */
  headers: { get(name: string): string | null };
  /** The request carried `Authorization`. */
  authorization: boolean;
  /** When the request was sent and when its response headers arrived (ms since the epoch). */
  requestTime: number;
  responseTime: number;
}

/** When and how a stored response may be used; everything in ms. */
export interface EntryTiming {
  /** When the response was received (or last revalidated). */
  responseTime: number;
  /** RFC 9111 corrected_initial_age. */
  initialAgeMs: number;
  freshMs: number;
  swrMs: number;
  sieMs: number;
  /** Every use needs revalidation (`no-cache`). */
  noCache: boolean;
  /** `must-revalidate` or `proxy-revalidate`: never served stale (nor are `no-cache`, `s-maxage`). */
  mustRevalidate: boolean;
  /** `s-maxage` was used: clients' `max-stale` does not apply (implied proxy-revalidate). */
  sMaxAge: boolean;
  /** May answer requests carrying `Authorization` (RFC 9111 §3.5). */
  authOk: boolean;
  /** Kept after going stale this long when it has a validator (conditional revalidation). */
  keepMs: number;
  /** Set by a soft purge: stale from this instant on. */
  invalidatedAt?: number;
}

/** The outcome of {@linkcode storagePolicy}. */
export type StoragePolicy =
  | { store: false; reason: string }
  | {
    store: true;
    timing: EntryTiming;
    /** Request headers the response varies on (lower-case, sorted); empty for none. */
    vary: string[];
    /** Response fields a shared cache must not keep (`private="…"`, `Set-Cookie`). */
    strip: string[];
    /** Which header gave the directives: `outpost-cache-control`, `cdn-cache-control` … */
    source: string;
    /** The response's content coding (`gzip`, `br` …), or null for identity. */
    coding: string | null;
  };

const TARGETED = ["outpost-cache-control", "cdn-cache-control"] as const;

/**
 * The directives the edge obeys: the most specific valid targeted field, else Cache-Control. A
 * targeted field that is empty or invalid (RFC 9213 §2.1) is ignored as if absent.
 */
export function edgeDirectives(
  headers: { get(name: string): string | null },
): { directives: ResponseDirectives; source: string } {
  for (const name of TARGETED) {
    const directives = parseTargetedDirectives(headers.get(name));
    if (directives !== null) return { directives, source: name };
  }
  return {
    directives: parseResponseDirectives(headers.get("cache-control")),
    source: "cache-control",
  };
}

/** The `Age` header in seconds: a malformed or negative value counts as absent (0). */
export function parseAge(value: string | null): number {
  if (value === null) return 0;
  const v = value.split(",", 1)[0].trim();
  if (!/^\d{1,20}$/.test(v)) return 0;
  return Math.min(Number(v), MAX_DELTA_SECONDS);
}

function seconds(value: number | undefined, rules: FreshnessRules): number | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(value)) return 0; // malformed: stale (RFC 9111 §4.2.1)
  return Math.min(value, rules.maxTtlSeconds);
}

/** RFC 9111 §4.2.3: the corrected initial age of a response, in ms. */
export function initialAge(facts: ExchangeFacts): number {
  const date = parseHttpDate(facts.headers.get("date"), facts.responseTime);
  const dateValue = Number.isNaN(date) ? facts.responseTime : date;
  const apparent = Math.max(0, facts.responseTime - dateValue);
  const delay = Math.max(0, facts.responseTime - facts.requestTime);
  const corrected = parseAge(facts.headers.get("age")) * 1000 + delay;
  return Math.max(apparent, corrected);
}

/** Decides whether a GET response may be stored by a shared cache, and its timing. */
export function storagePolicy(facts: ExchangeFacts, rules: FreshnessRules): StoragePolicy {
  const { status, headers } = facts;
  const { directives: d, source } = edgeDirectives(headers);
  // must-understand: store only responses whose status this cache implements; no-store then
  // applies to every other cache (RFC 9111 §5.2.2.3).
  if (d.mustUnderstand && !UNDERSTOOD_STATUSES.has(status)) {
    return { store: false, reason: "must-understand" };
  }
  const final = status >= 200 && status <= 599 && status !== 206 && status !== 304;
  if (!final) return { store: false, reason: "status" };
  if (d.noStore && !d.mustUnderstand) return { store: false, reason: "no-store" };
  if (d.private) return { store: false, reason: "private" };
  const vary = parseVary(headers.get("vary"));
  if (vary === null) return { store: false, reason: "vary-star" };
  const coding = contentCoding(headers.get("content-encoding"));
  if (coding === undefined) return { store: false, reason: "content-encoding" };
  if (facts.authorization && !d.public && d.sMaxAge === undefined && !d.mustRevalidate) {
    return { store: false, reason: "authorization" };
  }
  const setCookie = headers.get("set-cookie") !== null;
  if (setCookie && !d.public) return { store: false, reason: "set-cookie" };

  const date = parseHttpDate(headers.get("date"), facts.responseTime);
  const dateValue = Number.isNaN(date) ? facts.responseTime : date;
  const expiresHeader = headers.get("expires");
  const explicit = d.sMaxAge !== undefined || d.maxAge !== undefined || expiresHeader !== null;
  if (!explicit && !d.public && !HEURISTIC_STATUSES.has(status) && rules.ttlSeconds === undefined) {
    return { store: false, reason: "no-freshness" };
  }

  let lifetime: number;
  if (rules.ttlSeconds !== undefined) lifetime = rules.ttlSeconds;
  else if (d.sMaxAge !== undefined) lifetime = seconds(d.sMaxAge, rules)!;
  else if (d.maxAge !== undefined) lifetime = seconds(d.maxAge, rules)!;
  else if (expiresHeader !== null) {
    // Not an HTTP-date (a missing comma, "UTC", dashes, a one-digit hour, "0"): already
    // expired (RFC 9111 §5.3).
    const expires = parseHttpDate(expiresHeader, facts.responseTime);
    lifetime = Number.isNaN(expires) ? 0 : Math.max(0, (expires - dateValue) / 1000);
  } else if (rules.defaultTtlSeconds !== undefined) lifetime = rules.defaultTtlSeconds;
  else {
    const lastModified = parseHttpDate(headers.get("last-modified"), facts.responseTime);
    lifetime = HEURISTIC_STATUSES.has(status) && lastModified < dateValue
      ? Math.min(
        rules.heuristicMaxSeconds,
        rules.heuristicFraction * (dateValue - lastModified) / 1000,
      )
      : 0;
  }
  lifetime = Math.min(lifetime, rules.maxTtlSeconds);

  const swr = Math.min(
    rules.staleWhileRevalidateSeconds ?? seconds(d.staleWhileRevalidate, rules) ??
      rules.defaultStaleWhileRevalidateSeconds,
    rules.maxTtlSeconds,
  );
  const sie = Math.min(
    rules.staleIfErrorSeconds ?? seconds(d.staleIfError, rules) ?? rules.defaultStaleIfErrorSeconds,
    rules.maxTtlSeconds,
  );
  const validator = headers.get("etag") !== null || headers.get("last-modified") !== null;
  if (!(lifetime > 0) && !validator && !(swr > 0) && !(sie > 0)) {
    return { store: false, reason: "no-freshness" };
  }
  const mustRevalidate = d.mustRevalidate || d.proxyRevalidate;
  // RFC 9111 §4.2.4: no stale answers at all under must-revalidate, proxy-revalidate, no-cache
  // or (for a shared cache) s-maxage, whatever stale-while-revalidate/-if-error or config say.
  const neverStale = mustRevalidate || d.noCache || d.sMaxAge !== undefined;
  return {
    store: true,
    source,
    coding,
    vary,
    strip: setCookie ? ["set-cookie", ...d.privateFields] : d.privateFields,
    timing: {
      responseTime: facts.responseTime,
      initialAgeMs: initialAge(facts),
      freshMs: Math.floor(lifetime * 1000),
      swrMs: neverStale ? 0 : swr * 1000,
      sieMs: neverStale ? 0 : sie * 1000,
      noCache: d.noCache,
      mustRevalidate,
      sMaxAge: d.sMaxAge !== undefined,
      authOk: d.public || d.sMaxAge !== undefined || d.mustRevalidate,
      keepMs: validator ? rules.keepStaleSeconds * 1000 : 0,
    },
  };
}

/** The `Vary` field as sorted lower-case names; `null` for `Vary: *`; `[]` when absent. */
export function parseVary(value: string | null): string[] | null {
  if (value === null || value.trim() === "") return [];
  const names = new Set<string>();
  for (const part of value.split(",")) {
    const name = part.trim().toLowerCase();
    if (name === "*") return null;
    if (name !== "" && /^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$/.test(name)) names.add(name);
  }
  return [...names].sort();
}

/** The current age of a stored response in ms (RFC 9111 §4.2.3). */
export function currentAge(t: EntryTiming, now: number): number {
  return t.initialAgeMs + Math.max(0, now - t.responseTime);
}

/** The instant a stored response stops being fresh (earlier when a soft purge marked it). */
function staleAt(t: EntryTiming): number {
  const expires = t.responseTime - t.initialAgeMs + t.freshMs;
  return t.invalidatedAt !== undefined && t.invalidatedAt < expires ? t.invalidatedAt : expires;
}

/** Whether a stored response is still worth keeping at `now` (else it is dropped). */
export function isRetained(t: EntryTiming, now: number): boolean {
  return now - staleAt(t) < Math.max(t.swrMs, t.sieMs, t.keepMs);
}

/**
 * How long to keep a stored response from `now` (KV expiry, at least one second): while it can
 * be served (fresh, then its stale windows), and while kept for conditional revalidation, at
 * most `keepCapMs` of that (the KV tier keeps such entries for less than memory does).
 */
export function retentionMs(t: EntryTiming, now: number, keepCapMs = Infinity): number {
  const keep = Math.min(t.keepMs, keepCapMs);
  return Math.max(1000, staleAt(t) + Math.max(t.swrMs, t.sieMs, keep) - now);
}

/** What to do with a stored response for one request. */
export interface Decision {
  /** `hit`: serve; `stale`: serve now and revalidate in the background; `revalidate`: ask first. */
  action: "hit" | "stale" | "revalidate";
  /** Why a stale response may be served now (`swr`) or why revalidation is needed. */
  detail:
    | "fresh"
    | "swr"
    | "max-stale"
    | "expired"
    | "no-cache"
    | "request-no-cache"
    | "request-max-age"
    | "min-fresh"
    | "purged";
  ageMs: number;
  /** Freshness left in ms (negative when stale). */
  ttlMs: number;
  /** The stored response may answer if the origin fails (stale-if-error, max-stale). */
  staleIfError: boolean;
}

/** Decides how a stored response may answer a request at `now` (RFC 9111 §4, RFC 5861). */
export function decide(t: EntryTiming, now: number, req: RequestDirectives): Decision {
  const ageMs = currentAge(t, now);
  const stale = staleAt(t);
  const ttlMs = stale - now;
  const staleness = now - stale;
  // Entries stored before these rules were zeroed in storagePolicy are held to them here too.
  const neverStale = t.mustRevalidate || t.noCache || t.sMaxAge;
  const clientStaleOk = req.maxStale !== undefined && !neverStale &&
    (req.maxStale === true || staleness <= req.maxStale * 1000);
  const staleIfError = !neverStale && (staleness < t.sieMs || clientStaleOk);
  const ageOk = req.maxAge === undefined || ageMs <= req.maxAge * 1000;
  const result = (action: Decision["action"], detail: Decision["detail"]): Decision => ({
    action,
    detail,
    ageMs,
    ttlMs,
    staleIfError,
  });
  if (req.noCache) return result("revalidate", "request-no-cache");
  if (t.noCache) return result("revalidate", "no-cache");
  if (!ageOk) return result("revalidate", "request-max-age");
  if (ttlMs > 0) {
    if (req.minFresh !== undefined && ttlMs < req.minFresh * 1000) {
      return result("revalidate", "min-fresh");
    }
    return result("hit", "fresh");
  }
  if (req.minFresh !== undefined) return result("revalidate", "min-fresh");
  if (clientStaleOk) return result("stale", "max-stale");
  if (t.invalidatedAt !== undefined && t.invalidatedAt <= now) {
    return result("revalidate", "purged");
  }
  if (!neverStale && staleness < t.swrMs) return result("stale", "swr");
  return result("revalidate", "expired");
}

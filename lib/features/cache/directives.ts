/**
 * Cache-Control parsing (RFC 9111 §5.2): a header value in, the directives a cache acts on out.
 * Pure and forgiving: unknown directives are ignored, malformed numbers are marked invalid.
 */

import { type Member, parseDictionary } from "../../platform/http/structured_fields.ts";

/** Largest delta-seconds a cache must handle; bigger values mean "this" (RFC 9111 §1.2.2). */
export const MAX_DELTA_SECONDS = 2147483648;

/** A delta-seconds value: a non-negative integer, or `NaN` when the directive was malformed. */
export type DeltaSeconds = number;

/** The directives of a response's Cache-Control (or CDN-Cache-Control, Outpost-Cache-Control). */
export interface ResponseDirectives {
  maxAge?: DeltaSeconds;
  sMaxAge?: DeltaSeconds;
  noStore: boolean;
  /** `no-cache` with or without field names (both make the cache revalidate every time). */
  noCache: boolean;
  /** Unqualified `private`: a shared cache must not store the response. */
  private: boolean;
  /** `private="a, b"`: a shared cache may store the response without these fields. */
  privateFields: string[];
  public: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  mustUnderstand: boolean;
  immutable: boolean;
  /** `no-transform`: intermediaries must not change the content (no compressing, no decoding). */
  noTransform: boolean;
  staleWhileRevalidate?: DeltaSeconds;
  staleIfError?: DeltaSeconds;
}

/** The directives of a request's Cache-Control (RFC 9111 §5.2.1). */
export interface RequestDirectives {
  maxAge?: DeltaSeconds;
  /** `true` for a bare `max-stale` (any staleness), else the seconds accepted. */
  maxStale?: DeltaSeconds | true;
  minFresh?: DeltaSeconds;
  noCache: boolean;
  noStore: boolean;
  onlyIfCached: boolean;
}

/** One directive: its lower-case name and its value (unquoted), or `null` without `=`. */
export type RawDirective = [name: string, value: string | null];

const MAX_HEADER = 8192;

/** Splits a Cache-Control value into directives, honouring quoted strings. */
export function splitDirectives(header: string | null | undefined): RawDirective[] {
  if (!header) return [];
  const text = header.length > MAX_HEADER ? header.slice(0, MAX_HEADER) : header;
  const out: RawDirective[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === ",")) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && text[j] !== "=" && text[j] !== ",") j++;
    const name = text.slice(i, j).trim().toLowerCase();
    let value: string | null = null;
    if (j < n && text[j] === "=") {
      j++;
      while (j < n && (text[j] === " " || text[j] === "\t")) j++;
      if (text[j] === '"') {
        let k = j + 1;
        let v = "";
        while (k < n && text[k] !== '"') {
          if (text[k] === "\\" && k + 1 < n) k++;
          v += text[k];
          k++;
        }
        value = v;
        j = k + 1;
        while (j < n && text[j] !== ",") j++;
      } else {
        let k = j;
        while (k < n && text[k] !== ",") k++;
        value = text.slice(j, k).trim();
        j = k;
      }
    }
    if (name) out.push([name, value]);
    i = j + 1;
  }
  return out;
}

/** Parses delta-seconds; malformed → `NaN`, too large → {@linkcode MAX_DELTA_SECONDS}. */
function parseDeltaSeconds(value: string | null): DeltaSeconds {
  if (value === null || !/^\d{1,100}$/.test(value)) return NaN;
  const n = Number(value);
  return n > MAX_DELTA_SECONDS ? MAX_DELTA_SECONDS : n;
}

function fieldList(value: string | null): string[] {
  if (value === null) return [];
  return value.split(",").map((s) => s.trim().toLowerCase()).filter((s) =>
    /^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(s)
  );
}

/** Parses a response's Cache-Control. The first of duplicated numeric directives wins. */
export function parseResponseDirectives(header: string | null | undefined): ResponseDirectives {
  const d: ResponseDirectives = {
    noStore: false,
    noCache: false,
    private: false,
    privateFields: [],
    public: false,
    mustRevalidate: false,
    proxyRevalidate: false,
    mustUnderstand: false,
    immutable: false,
    noTransform: false,
  };
  for (const [name, value] of splitDirectives(header)) {
    switch (name) {
      case "max-age":
        d.maxAge ??= parseDeltaSeconds(value);
        break;
      case "s-maxage":
        d.sMaxAge ??= parseDeltaSeconds(value);
        break;
      case "no-store":
        d.noStore = true;
        break;
      case "no-cache":
        d.noCache = true;
        break;
      case "private": {
        const fields = fieldList(value);
        if (fields.length === 0) d.private = true;
        else d.privateFields.push(...fields);
        break;
      }
      case "public":
        d.public = true;
        break;
      case "must-revalidate":
        d.mustRevalidate = true;
        break;
      case "proxy-revalidate":
        d.proxyRevalidate = true;
        break;
      case "must-understand":
        d.mustUnderstand = true;
        break;
      case "immutable":
        d.immutable = true;
        break;
      case "no-transform":
        d.noTransform = true;
        break;
      case "stale-while-revalidate":
        d.staleWhileRevalidate ??= parseDeltaSeconds(value);
        break;
      case "stale-if-error":
        d.staleIfError ??= parseDeltaSeconds(value);
        break;
    }
  }
  return d;
}

const DELTA_DIRECTIVES = new Set([
  "max-age",
  "s-maxage",
  "stale-while-revalidate",
  "stale-if-error",
]);
const FLAG_DIRECTIVES = new Set([
  "no-store",
  "public",
  "must-revalidate",
  "proxy-revalidate",
  "must-understand",
  "immutable",
  "no-transform",
]);

/** A field-name list of `private` / `no-cache` in a targeted field: a String, Token or list. */
function targetedFieldNames(member: Member): string[] | null {
  const names = member.kind === "list" ? member.items : [member.item];
  if (member.kind === "item" && member.item.type === "boolean") {
    return member.item.value ? [] : null;
  }
  const out: string[] = [];
  for (const item of names) {
    if (item.type !== "string" && item.type !== "token") return null;
    out.push(...fieldList(item.value));
  }
  return out;
}

/**
 * A targeted field (`CDN-Cache-Control`, `Outpost-Cache-Control`) as RFC 9213 §2.1 reads it: a
 * Structured Field Dictionary whose known directives have the right types (delta-seconds as
 * non-negative Integers, flags as Booleans). Null when the field is empty, does not parse, or
 * gives a known directive a value of the wrong type: the cache then ignores the field as a whole
 * and falls back to the next one.
 */
export function parseTargetedDirectives(
  header: string | null | undefined,
): ResponseDirectives | null {
  if (!header || header.trim() === "") return null;
  const dict = parseDictionary(header.trim());
  if (dict === null) return null;
  const d = parseResponseDirectives(null);
  for (const [name, member] of dict) {
    if (DELTA_DIRECTIVES.has(name)) {
      if (member.kind !== "item" || member.item.type !== "integer" || member.item.value < 0) {
        return null;
      }
      const v = Math.min(member.item.value, MAX_DELTA_SECONDS);
      if (name === "max-age") d.maxAge = v;
      else if (name === "s-maxage") d.sMaxAge = v;
      else if (name === "stale-while-revalidate") d.staleWhileRevalidate = v;
      else d.staleIfError = v;
    } else if (FLAG_DIRECTIVES.has(name)) {
      if (member.kind !== "item" || member.item.type !== "boolean") return null;
      if (!member.item.value) continue;
      if (name === "no-store") d.noStore = true;
      else if (name === "public") d.public = true;
      else if (name === "must-revalidate") d.mustRevalidate = true;
      else if (name === "proxy-revalidate") d.proxyRevalidate = true;
      else if (name === "must-understand") d.mustUnderstand = true;
      else if (name === "immutable") d.immutable = true;
      else d.noTransform = true;
    } else if (name === "private" || name === "no-cache") {
      const fields = targetedFieldNames(member);
      if (fields === null) return null;
      if (name === "no-cache") d.noCache = true;
      else if (fields.length === 0) d.private = true;
      else d.privateFields.push(...fields);
    }
    // Other directives are extensions: ignored, whatever their value (RFC 9111 §5.2.3).
  }
  return d;
}

/**
 * Parses a request's Cache-Control, falling back to `Pragma: no-cache` when the request has no
 * Cache-Control at all (RFC 9111 §5.4). Malformed values are dropped (the directive is ignored).
 */
export function parseRequestDirectives(
  cacheControl: string | null | undefined,
  pragma?: string | null,
): RequestDirectives {
  const d: RequestDirectives = { noCache: false, noStore: false, onlyIfCached: false };
  if (!cacheControl) {
    if (pragma && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma)) d.noCache = true;
    return d;
  }
  for (const [name, value] of splitDirectives(cacheControl)) {
    switch (name) {
      case "max-age": {
        const v = parseDeltaSeconds(value);
        if (!Number.isNaN(v) && d.maxAge === undefined) d.maxAge = v;
        break;
      }
      case "max-stale": {
        if (value === null) d.maxStale = true;
        else {
          const v = parseDeltaSeconds(value);
          if (!Number.isNaN(v) && d.maxStale === undefined) d.maxStale = v;
        }
        break;
      }
      case "min-fresh": {
        const v = parseDeltaSeconds(value);
        if (!Number.isNaN(v) && d.minFresh === undefined) d.minFresh = v;
        break;
      }
      case "no-cache":
        d.noCache = true;
        break;
      case "no-store":
        d.noStore = true;
        break;
      case "only-if-cached":
        d.onlyIfCached = true;
        break;
    }
  }
  return d;
}

/** The request directives of a request that sent none (shared, never mutated). */
export const NO_REQUEST_DIRECTIVES: Readonly<RequestDirectives> = Object.freeze({
  noCache: false,
  noStore: false,
  onlyIfCached: false,
});

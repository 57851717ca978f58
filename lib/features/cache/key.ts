/**
 * Cache keys: a normalised request URL (host, path, query, configurable) plus, for responses
 * with `Vary`, the request's values of the named headers. Synchronous and cheap, because the
 * memory hit path computes a key on every request.
 */

import { normalizeAcceptEncoding } from "../../platform/http/content_coding.ts";

/** How a route builds its keys. */
export interface KeyOptions {
  /** Query parameters left out of the key: names, `prefix*` patterns, or `*` for all. */
  ignoreQueryParams: readonly string[];
  /** Sort query parameters so `?a=1&b=2` and `?b=2&a=1` share an entry. */
  sortQuery: boolean;
  /** Leave the host out (every hostname of the site shares entries). */
  ignoreHost?: boolean;
  /** A custom key: receives the request and its parsed URL, returns the key's URL part. */
  custom?: (req: Request, url: URL) => string;
}

/** The longest key (URL part) kept; longer targets are not cached. */
export const MAX_KEY_LENGTH = 4096;

interface QueryFilter {
  all: boolean;
  names: Set<string>;
  prefixes: string[];
}

/** Compiles key options into a function `(rawUrl, req) => key | null` (null: not cacheable). */
export function compileKey(options: KeyOptions): (rawUrl: string, req: Request) => string | null {
  const filter: QueryFilter = { all: false, names: new Set(), prefixes: [] };
  for (const p of options.ignoreQueryParams) {
    if (p === "*") filter.all = true;
    else if (p.endsWith("*")) filter.prefixes.push(p.slice(0, -1));
    else filter.names.add(p);
  }
  const touchesQuery = filter.all || filter.names.size > 0 || filter.prefixes.length > 0 ||
    options.sortQuery;
  const custom = options.custom;
  const ignoreHost = options.ignoreHost ?? false;
  return function cacheKey(rawUrl, req) {
    if (custom) {
      let out: unknown;
      try {
        out = custom(req, new URL(rawUrl));
      } catch {
        return null;
      }
      // The scheme stays part of the key: a page made for http (a redirect to https, say) is
      // never served to https clients.
      return typeof out === "string" && out.length > 0 && out.length <= MAX_KEY_LENGTH &&
          !out.includes("\u0000")
        ? `~${rawUrl.startsWith("https:") ? "https" : "http"}:${out}`
        : null;
    }
    const key = normalizeUrl(rawUrl, touchesQuery ? filter : null, options.sortQuery, ignoreHost);
    return key !== null && key.length <= MAX_KEY_LENGTH ? key : null;
  };
}

const NEEDS_PARSE = /[A-Z]|:(80|443)$/;

/**
 * The URL under both schemes: purges and invalidations reach the http and the https entries of
 * a resource alike (the scheme is part of every key).
 */
export function bothSchemes(url: string): [string, string] {
  const rest = url.slice(url.indexOf(":"));
  return [`http${rest}`, `https${rest}`];
}
const UNRESERVED = /%(2[dDeE]|3\d|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/g;

/**
 * `scheme://host/path?query` with the host lower-cased, default ports removed, dot segments
 * resolved and percent-escapes of unreserved characters decoded (RFC 3986 §6.2.2). The request
 * path gets here already canonical (`ctx.href`); purge URLs given by operators may not be.
 */
export function normalizeUrl(
  rawUrl: string,
  filter: QueryFilter | null = null,
  sortQuery = false,
  ignoreHost = false,
): string | null {
  const hostStart = rawUrl.indexOf("//") + 2;
  if (hostStart < 2) return null;
  let pathStart = rawUrl.indexOf("/", hostStart);
  if (pathStart < 0) pathStart = rawUrl.length;
  const host = rawUrl.slice(hostStart, pathStart);
  const q = rawUrl.indexOf("?", pathStart);
  const path = q < 0 ? rawUrl.slice(pathStart) : rawUrl.slice(pathStart, q);
  const simple = !NEEDS_PARSE.test(host) && !path.includes("%") && !path.includes("/.") &&
    !rawUrl.includes("#");
  if (simple && filter === null && !sortQuery) {
    const end = q === rawUrl.length - 1 ? q : rawUrl.length;
    return ignoreHost
      ? rawUrl.slice(0, hostStart) + rawUrl.slice(pathStart, end)
      : rawUrl.slice(0, end);
  }
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return null;
  }
  const cleanPath = url.pathname.replace(/%[0-9a-fA-F]{2}/g, (m) => m.toUpperCase())
    .replace(UNRESERVED, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
  let query = url.search;
  if (filter !== null || sortQuery) {
    let pairs = filter?.all ? [] : query.slice(1).split("&").filter((p) => p !== "");
    if (filter !== null && !filter.all) {
      pairs = pairs.filter((pair) => {
        const eq = pair.indexOf("=");
        let name = eq < 0 ? pair : pair.slice(0, eq);
        try {
          name = decodeURIComponent(name.replaceAll("+", " "));
        } catch {
          // keep the raw name
        }
        if (filter.names.has(name)) return false;
        for (const prefix of filter.prefixes) if (name.startsWith(prefix)) return false;
        return true;
      });
    }
    if (sortQuery) pairs.sort();
    query = pairs.length > 0 ? `?${pairs.join("&")}` : "";
  }
  const origin = `${url.protocol}//${ignoreHost ? "" : url.host}`;
  return `${origin}${cleanPath}${query === "?" ? "" : query}`;
}

/** A header value as it enters a variant key: trimmed, inner whitespace collapsed. */
function normalizeValue(value: string | null): string {
  if (value === null) return "\u0000";
  const v = value.trim();
  return /\s\s|\t/.test(v) ? v.replace(/\s+/g, " ") : v;
}

/**
 * The part of a variant key made of the request's values for the `Vary` names. `Accept-Encoding`
 * enters normalised (`br`, `gzip` or `identity`, see `encoding.ts`), so the dozens of values
 * browsers send share at most three entries.
 */
export function varyValues(names: readonly string[], get: (name: string) => string | null): string {
  let out = "";
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += "\u0001";
    const name = names[i];
    out += name === "accept-encoding"
      ? normalizeAcceptEncoding(get(name))
      : normalizeValue(get(name));
  }
  return out;
}

const TAG = /^[\x21-\x7e]{1,128}$/;
/** Most tags one response may carry; the rest are ignored. */
const MAX_TAGS = 64;

/** Tags from the origin's `Cache-Tag` (comma-separated) and `Surrogate-Key` (space-separated). */
export function parseTags(headers: { get(name: string): string | null }): string[] {
  const tags = new Set<string>();
  for (const name of ["cache-tag", "surrogate-key"]) {
    const value = headers.get(name);
    if (!value) continue;
    for (const raw of value.slice(0, 16384).split(/[\s,]+/)) {
      if (tags.size >= MAX_TAGS) break;
      if (TAG.test(raw)) tags.add(raw);
    }
  }
  return [...tags];
}

/** True when `tag` is a valid tag (what the purge endpoint accepts). */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag) && !tag.includes(",");
}

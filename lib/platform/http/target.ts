/**
 * The canonical request target: the one authority, path and query that routing, authorization,
 * A/B assignment, the cache key, purge and forwarding all use. It is computed once, before
 * routing, from the raw `Request.url` that `Deno.serve` builds (which keeps dot segments,
 * backslashes and an absolute-form target's authority as the client sent them).
 *
 * The policy (docs/security.md):
 * - percent-escapes of unreserved characters are decoded (`%2e` → `.`, `%41` → `A`), the others
 *   are kept with upper-case hex; `%2F`, `%5C`, `%00` and their double-encoded forms (`%252F`) are
 *   refused, as is a raw backslash or control character;
 * - `.` and `..` segments are resolved and empty segments merged (`//a/./b/../c` → `/a/c`); a
 *   `..` that climbs above the root is refused;
 * - characters that URL parsing would escape (non-ASCII, `"`, `<`, `>`, `` ` ``, `{`, `}`, and
 *   `'` in the query) are percent-encoded, so `new URL(target.url)` changes nothing;
 * - the authority is the absolute-form target's when the client sent one (RFC 9112 §3.2.2: `Host`
 *   is then ignored), else the `Host` header's; it must be a valid host with an optional port,
 *   and is lower-cased without the scheme's default port;
 * - the fragment is dropped.
 */

/** What `canonicalTarget` makes of an acceptable request target. */
export interface CanonicalTarget {
  /** `host[:port]`, lower-case, without the default port of `connectionScheme`. */
  readonly authority: string;
  /** The normalized path (always starts with `/`). */
  readonly path: string;
  /** `""` or `?…` (the fragment removed). */
  readonly query: string;
  /** True when the client sent an absolute-form target (`GET http://host/p`). */
  readonly absoluteForm: boolean;
  /**
   * How the client reached this process (config `tls`): never an absolute-form target's own
   * scheme, which is only the client's claim.
   */
  readonly connectionScheme: "http" | "https";
  /** `connectionScheme://authority path query`: the URL routing sees. */
  readonly url: string;
}

/** Why a request target was refused (answered 400 or 414 before routing). */
export interface TargetRefusal {
  readonly status: 400 | 414;
  readonly code: "bad_request_target" | "bad_host" | "uri_too_long";
  readonly detail: string;
}

/** Longest request target accepted (path and query). */
const MAX_TARGET_LENGTH = 8192;

const HEX = /^[0-9A-Fa-f]{2}$/;
const IPV6 = /^\[[0-9a-f:.]{2,45}\]$/;

/** True when the refusal type guard applies. */
export function isRefusal(t: CanonicalTarget | TargetRefusal): t is TargetRefusal {
  return "status" in t;
}

function refuse(detail: string, code: TargetRefusal["code"] = "bad_request_target"): TargetRefusal {
  return { status: 400, code, detail };
}

/**
 * The canonical target of a request, or why it is refused. `rawUrl` is `Request.url` as
 * `Deno.serve` built it; `host` is the `Host` header (null when absent); `connectionScheme` is how
 * clients reach this process (`https` where a platform terminates TLS for it, as Deno Deploy
 * does): an absolute-form target's own scheme is only the client's claim.
 */
export function canonicalTarget(
  rawUrl: string,
  host: string | null,
  connectionScheme: "http" | "https" = "http",
): CanonicalTarget | TargetRefusal {
  const sep = rawUrl.indexOf("://");
  const scheme = rawUrl.slice(0, sep);
  if (scheme !== "http" && scheme !== "https") return refuse("Unsupported scheme");
  const afterScheme = sep + 3;
  // Deno builds an origin-form URL as scheme://Host + target; anything else is absolute-form.
  let authorityRaw: string;
  let rest: string;
  let absoluteForm = false;
  if (
    host !== null && scheme === connectionScheme && rawUrl.startsWith(host, afterScheme) &&
    isTargetStart(rawUrl, afterScheme + host.length)
  ) {
    authorityRaw = host;
    rest = rawUrl.slice(afterScheme + host.length);
  } else {
    let end = afterScheme;
    while (end < rawUrl.length && !isTargetStartCode(rawUrl.charCodeAt(end))) end++;
    authorityRaw = rawUrl.slice(afterScheme, end);
    rest = rawUrl.slice(end);
    absoluteForm = host !== null;
  }
  const authority = canonicalAuthority(authorityRaw, connectionScheme);
  if (authority === null) {
    return refuse(`Invalid host: ${printable(authorityRaw)}`, "bad_host");
  }
  if (host !== null && absoluteForm && canonicalAuthority(host, connectionScheme) === null) {
    // RFC 9112 §3.2: a Host field with an invalid value is refused even when it is ignored.
    return refuse(`Invalid host: ${printable(host)}`, "bad_host");
  }
  const hash = rest.indexOf("#");
  const fragment = hash >= 0;
  if (fragment) rest = rest.slice(0, hash);
  if (rest.length > MAX_TARGET_LENGTH) {
    return {
      status: 414,
      code: "uri_too_long",
      detail: `Request target longer than ${MAX_TARGET_LENGTH} characters`,
    };
  }
  const q = rest.indexOf("?");
  const rawPath = q < 0 ? rest : rest.slice(0, q);
  const rawQuery = q < 0 ? "" : rest.slice(q);
  const path = rawPath === "" ? "/" : canonicalPath(rawPath);
  if (typeof path !== "string") return path;
  const query = canonicalQuery(rawQuery);
  if (typeof query !== "string") return query;
  // The common case: nothing changed, so the raw URL is the canonical one (no new string).
  const same = connectionScheme === scheme && authority === authorityRaw && !fragment &&
    path === rawPath && query === rawQuery;
  const url = same ? rawUrl : `${connectionScheme}://${authority}${path}${query}`;
  return { authority, path, query, absoluteForm, connectionScheme, url };
}

function isTargetStartCode(c: number): boolean {
  return c === 47 || c === 63 || c === 35; // "/", "?", "#"
}

function isTargetStart(url: string, i: number): boolean {
  return i === url.length || isTargetStartCode(url.charCodeAt(i));
}

/** `host[:port]` lower-cased without the default port, or null when not a valid authority. */
export function canonicalAuthority(raw: string, scheme: "http" | "https"): string | null {
  if (raw.length === 0 || raw.length > 262) return null;
  let hostPart = raw;
  let port = "";
  const colon = raw.lastIndexOf(":");
  if (colon >= 0 && raw.indexOf("]", colon) < 0) {
    hostPart = raw.slice(0, colon);
    port = raw.slice(colon + 1);
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return null;
    port = String(Number(port));
  }
  const lower = hostPart.toLowerCase();
  if (!(lower.startsWith("[") ? IPV6.test(lower) : isHostName(lower))) return null;
  const defaultPort = scheme === "https" ? "443" : "80";
  return port === "" || port === defaultPort ? lower : `${lower}:${port}`;
}

/** A DNS name or IPv4 address: labels of a-z 0-9 _ - separated by single dots (one may end it). */
function isHostName(host: string): boolean {
  if (host.length === 0 || host.length > 254) return false;
  let label = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0) return false;
      label = 0;
    } else if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f) {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Characters URL parsing percent-encodes in a path (besides controls, space and non-ASCII).
const PATH_ESCAPED = new Set([0x22, 0x3c, 0x3e, 0x60, 0x7b, 0x7d]); // " < > ` { }
// …and in the query of an http(s) URL.
const QUERY_ESCAPED = new Set([0x22, 0x27, 0x3c, 0x3e]); // " ' < >

function isUnreserved(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

/** True when the path can be taken as it is (the common case, checked without allocating). */
function pathIsCanonical(path: string): boolean {
  if (path.charCodeAt(0) !== 47) return false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x25 || c === 0x5c || PATH_ESCAPED.has(c)) return false;
    if (c === 47) {
      const n = path.charCodeAt(i + 1);
      if (n === 47) return false; // "//"
      if (n === 46) { // "/." then "/", "." + "/" or the end: a dot segment
        const n2 = path.charCodeAt(i + 2);
        if (n2 !== n2 || n2 === 47) return false; // NaN at the end
        if (n2 === 46) {
          const n3 = path.charCodeAt(i + 3);
          if (n3 !== n3 || n3 === 47) return false;
        }
      }
    }
  }
  return true;
}

const encoder = new TextEncoder();

function percentEncode(char: string): string {
  let out = "";
  for (const b of encoder.encode(char)) out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  return out;
}

/** The canonical form of a raw path, or why it is refused. */
export function canonicalPath(raw: string): string | TargetRefusal {
  if (pathIsCanonical(raw)) return raw;
  if (raw.charCodeAt(0) !== 47) return refuse("The path must start with /");
  // 1. Escapes and characters, segment by segment.
  const segments: string[] = [];
  let segment = "";
  for (let i = 1; i <= raw.length; i++) {
    if (i === raw.length || raw.charCodeAt(i) === 47) {
      segments.push(segment);
      segment = "";
      continue;
    }
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return refuse("Malformed percent-escape in the path");
      const byte = parseInt(hex, 16);
      if (byte === 0x2f || byte === 0x5c) return refuse("Encoded slash or backslash in the path");
      if (byte === 0x00) return refuse("Encoded NUL in the path");
      if (byte === 0x25 && /^(2[eEfF]|5[cC]|00)$/.test(raw.slice(i + 3, i + 5))) {
        return refuse("Double-encoded dot, slash or NUL in the path");
      }
      segment += isUnreserved(byte) ? String.fromCharCode(byte) : "%" + hex.toUpperCase();
      i += 2;
    } else if (c === 0x5c) {
      return refuse("Backslash in the path");
    } else if (c < 0x20 || c === 0x7f) {
      return refuse("Control character in the path");
    } else if (c === 0x20 || c >= 0x80 || PATH_ESCAPED.has(c)) {
      const cp = raw.codePointAt(i)!;
      const char = String.fromCodePoint(cp);
      if (cp >= 0xd800 && cp <= 0xdfff) return refuse("Invalid character in the path");
      segment += percentEncode(char);
      i += char.length - 1;
    } else {
      segment += raw[i];
    }
  }
  // 2. Dot segments and empty segments (RFC 3986 §5.2.4, plus merged slashes).
  const out: string[] = [];
  const last = segments.length - 1;
  let trailingSlash = false;
  for (let i = 0; i <= last; i++) {
    const s = segments[i];
    if (s === ".") {
      trailingSlash = i === last;
    } else if (s === "..") {
      if (out.length === 0) return refuse("The path climbs above the root");
      out.pop();
      trailingSlash = i === last;
    } else if (s === "") {
      trailingSlash = i === last && i > 0;
    } else {
      out.push(s);
      trailingSlash = false;
    }
  }
  const path = "/" + out.join("/");
  return trailingSlash && out.length > 0 ? path + "/" : path;
}

/** The canonical form of a raw query (`""` or `?…`), or why it is refused. */
function canonicalQuery(raw: string): string | TargetRefusal {
  let plain = true;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || QUERY_ESCAPED.has(c)) {
      plain = false;
      break;
    }
  }
  if (plain) return raw === "?" ? "" : raw;
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return refuse("Control character in the query");
    if (c === 0x20 || c >= 0x80 || QUERY_ESCAPED.has(c)) {
      const cp = raw.codePointAt(i)!;
      if (cp >= 0xd800 && cp <= 0xdfff) return refuse("Invalid character in the query");
      const char = String.fromCodePoint(cp);
      out += percentEncode(char);
      i += char.length - 1;
    } else {
      out += raw[i];
    }
  }
  return out === "?" ? "" : out;
}

/**
 * The path as protection patterns see it: lower-cased, with `;` parameters (also written `%3B`,
 * which some origins decode before splitting them off) removed from every segment. Matching on
 * this form only ever protects more: an origin that ignores case or strips `;jsessionid`-style
 * parameters cannot be reached past a pattern by spelling the path another way.
 */
export function matchPath(path: string): string {
  let lowerNeeded = false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3b || (c === 0x25 && /^%3b/i.test(path.slice(i, i + 3)))) {
      return stripParams(path.replace(/%3b/gi, ";")).toLowerCase();
    }
    if (c >= 0x41 && c <= 0x5a) lowerNeeded = true;
  }
  return lowerNeeded ? path.toLowerCase() : path;
}

function stripParams(path: string): string {
  return path.split("/").map((s) => {
    const semi = s.indexOf(";");
    return semi < 0 ? s : s.slice(0, semi);
  }).join("/");
}

function printable(value: string): string {
  // deno-lint-ignore no-control-regex
  return value.slice(0, 100).replace(/[\x00-\x1f\x7f]/g, "?");
}

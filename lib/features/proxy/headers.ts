/** Header hygiene for a forwarding proxy (RFC 9110 §7.6.1): hop-by-hop out, forwarding info in. */

import { upstreamAcceptEncoding } from "../../platform/http/content_coding.ts";

/** Headers that describe one connection, never forwarded. */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Removes hop-by-hop headers, including those the `Connection` header names. */
function stripHopByHop(headers: Headers): void {
  const connection = headers.get("connection");
  if (connection) {
    for (const name of connection.split(",")) {
      const n = name.trim().toLowerCase();
      if (n && n.length < 64) headers.delete(n);
    }
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
}

/** Hop-by-hop names plus those the `Connection` header lists (lower case). */
function connectionScoped(headers: Headers): ReadonlySet<string> {
  const connection = headers.get("connection");
  if (!connection) return HOP_BY_HOP;
  const names = new Set(HOP_BY_HOP);
  for (const name of connection.split(",")) {
    const n = name.trim().toLowerCase();
    if (n && n.length < 64) names.add(n);
  }
  return names;
}

/** What the edge knows about the client, for the forwarding headers. */
export interface ForwardingInfo {
  /** The direct peer's address. */
  peerIp: string | null;
  /** Whether the direct peer is a trusted proxy (its forwarding headers are kept). */
  peerTrusted: boolean;
  /** The original `Host` the client asked for. */
  host: string | null;
  proto: "http" | "https";
  /** This node's `Via` pseudonym, e.g. `outpost-us-east`. */
  via: string;
  requestId: string;
  /** Extra headers from earlier stages (A/B variant, user id). */
  extra?: Record<string, string>;
  /**
   * Method-override headers the origin may receive (lower case; `proxy.methodOverrideHeaders`).
   * Every other one is removed, and these too unless `method` is POST (see `effectiveMethod`).
   */
  overrides?: ReadonlySet<string>;
  /** The request's method (override headers pass only on POST). */
  method?: string;
  /** `identity`: ask the origin for plain bodies whatever the client takes (`proxy.acceptEncoding`). */
  acceptEncoding?: "client" | "identity";
}

/**
 * Headers that make some frameworks treat a request as another method or path than the one the
 * edge authorized and keyed (`GET` + `X-HTTP-Method-Override: DELETE`, `X-Original-URL: /admin`).
 */
const OVERRIDE_HEADERS: ReadonlySet<string> = new Set([
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-original-method",
  "x-original-url",
  "x-rewrite-url",
]);

/** Headers among {@linkcode OVERRIDE_HEADERS} that can carry a method. */
const METHOD_OVERRIDES = new Set([
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
]);

const METHOD_TOKEN = /^[A-Z][A-Z-]{0,19}$/;

/**
 * The method the origin will act on: a POST's allowed method-override header when one is
 * configured and present, else the request's own. Authorization decides on this method, so a
 * tunneled `DELETE` is authorized as a delete. Throws a `RangeError` for an invalid override.
 */
export function effectiveMethod(
  method: string,
  headers: Headers,
  overrides: ReadonlySet<string>,
): string {
  if (method !== "POST" || overrides.size === 0) return method;
  for (const name of overrides) {
    if (!METHOD_OVERRIDES.has(name)) continue;
    const value = headers.get(name);
    if (value === null) continue;
    const m = value.trim().toUpperCase();
    if (!METHOD_TOKEN.test(m)) throw new RangeError(`Invalid ${name}: ${value.slice(0, 40)}`);
    return m;
  }
  return method;
}

/** Request headers the edge sets itself (the client's values are replaced or extended). */
const SET_BY_EDGE = new Set([
  "host",
  "content-length",
  "via",
  "x-request-id",
  "accept-encoding",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "forwarded",
  // Only the edge says who the user is (authorization sets it on protected routes).
  "x-user-id",
]);

/** Request header fields as a plain object: lower-case names, duplicates combined with `, `. */
export type HeaderRecord = Record<string, string>;

/**
 * The header fields for the origin request, built in one pass into a plain object: `fetch`
 * takes a record several times faster than a `Headers` (which it walks with the iterator
 * protocol), and `Headers.forEach` walks the client's fields without an iterator per field.
 */
export function upstreamHeaders(incoming: Headers, info: ForwardingInfo): HeaderRecord {
  const skip = connectionScoped(incoming);
  const allowed = info.method === "POST" ? info.overrides : undefined;
  const out: HeaderRecord = {};
  incoming.forEach((value, name) => {
    if (skip.has(name) || SET_BY_EDGE.has(name)) return;
    if (OVERRIDE_HEADERS.has(name) && !allowed?.has(name)) return;
    // Only `set-cookie` comes more than once from `forEach` (a request has no business sending
    // it, but it is not ours to drop).
    const prior = out[name];
    out[name] = prior === undefined ? value : `${prior}, ${value}`;
  });
  const trusted = info.peerTrusted;
  const prior = trusted ? incoming.get("x-forwarded-for") : null;
  if (info.peerIp) out["x-forwarded-for"] = prior ? `${prior}, ${info.peerIp}` : info.peerIp;
  else if (prior) out["x-forwarded-for"] = prior;
  const proto = trusted ? incoming.get("x-forwarded-proto") : null;
  out["x-forwarded-proto"] = proto ?? info.proto;
  const host = (trusted ? incoming.get("x-forwarded-host") : null) ?? info.host;
  if (host) out["x-forwarded-host"] = host;
  if (trusted) {
    const forwarded = incoming.get("forwarded");
    if (forwarded) out["forwarded"] = forwarded;
  }
  const via = incoming.get("via");
  out["via"] = via ? `${via}, 1.1 ${info.via}` : `1.1 ${info.via}`;
  out["x-request-id"] = info.requestId;
  // The client's intent, normalised (`br, gzip`, `gzip` or `identity`): fewer variants at the
  // origin and in caches. The transport must hand encoded bodies over as they are (`raw_fetch.ts`).
  out["accept-encoding"] = info.acceptEncoding === "identity"
    ? "identity"
    : upstreamAcceptEncoding(incoming.get("accept-encoding"));
  if (info.extra) {
    for (const name in info.extra) out[name.toLowerCase()] = info.extra[name];
  }
  return out;
}

/**
 * Counts how many Outpost hops a `Via` header already lists (loop protection), however long the
 * header is; counting stops at `max` (a header cannot make this loop long).
 */
export function outpostHops(via: string | null, max = Infinity): number {
  if (!via) return 0;
  const lower = via.toLowerCase();
  let n = 0;
  for (let i = lower.indexOf("outpost-"); i >= 0 && n < max; i = lower.indexOf("outpost-", i + 8)) {
    // A hop's pseudonym starts a token: after a space, a comma or the start of the header.
    const before = i === 0 ? 32 : lower.charCodeAt(i - 1);
    if (before === 32 || before === 44 || before === 9) n++;
  }
  return n;
}

/** Copies an origin's response headers onto `target`, leaving hop-by-hop ones out. */
export function copyDownstreamHeaders(upstream: Headers, target: Headers): void {
  const skip = connectionScoped(upstream);
  upstream.forEach((value, name) => {
    if (!skip.has(name)) target.append(name, value);
  });
}

/**
 * Removes hop-by-hop fields from `copy`, a response's own (mutable) copy of `original`'s fields:
 * `new Response(body, { headers: upstream.headers })` costs less than field by field, and most
 * responses have none of these. They are looked for in one pass over the original (a fetch
 * response's fields, kept sorted), not with a lookup per name.
 */
export function stripResponseHops(original: Headers, copy: Headers): void {
  let found = false;
  original.forEach((_value, name) => {
    if (HOP_BY_HOP.has(name)) found = true;
  });
  if (found) stripHopByHop(copy);
}

/** The response header set for the client. */
export function downstreamHeaders(upstream: Headers): Headers {
  const out = new Headers();
  copyDownstreamHeaders(upstream, out);
  return out;
}

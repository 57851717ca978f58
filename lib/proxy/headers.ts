/** Header hygiene for a forwarding proxy (RFC 9110 §7.6.1): hop-by-hop out, forwarding info in. */

import { upstreamAcceptEncoding } from "../http/content_coding.ts";

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
export function stripHopByHop(headers: Headers): void {
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

/**
 * The header set for the origin request, built in one pass (copying a `Headers` and deleting
 * from it costs several times more in Deno).
 */
export function upstreamHeaders(incoming: Headers, info: ForwardingInfo): Headers {
  const skip = connectionScoped(incoming);
  const out = new Headers();
  for (const [name, value] of incoming) {
    if (!skip.has(name) && !SET_BY_EDGE.has(name)) out.append(name, value);
  }
  const trusted = info.peerTrusted;
  const prior = trusted ? incoming.get("x-forwarded-for") : null;
  if (info.peerIp) out.set("x-forwarded-for", prior ? `${prior}, ${info.peerIp}` : info.peerIp);
  else if (prior) out.set("x-forwarded-for", prior);
  const proto = trusted ? incoming.get("x-forwarded-proto") : null;
  out.set("x-forwarded-proto", proto ?? info.proto);
  const host = trusted ? incoming.get("x-forwarded-host") : null;
  if (host ?? info.host) out.set("x-forwarded-host", (host ?? info.host)!);
  if (trusted) {
    const forwarded = incoming.get("forwarded");
    if (forwarded) out.set("forwarded", forwarded);
  }
  const via = incoming.get("via");
  out.set("via", via ? `${via}, 1.1 ${info.via}` : `1.1 ${info.via}`);
  out.set("x-request-id", info.requestId);
  // The client's intent, normalised (`br, gzip`, `gzip` or `identity`): fewer variants at the
  // origin and in caches. The transport must hand encoded bodies over as they are (`raw_fetch.ts`).
  out.set("accept-encoding", upstreamAcceptEncoding(incoming.get("accept-encoding")));
  if (info.extra) { for (const name in info.extra) out.set(name, info.extra[name]); }
  return out;
}

/** Counts how many Outpost hops a `Via` header already lists (loop protection). */
export function outpostHops(via: string | null): number {
  if (!via || via.length > 4096) return 0;
  let n = 0;
  for (const hop of via.split(",")) if (/\boutpost-/.test(hop)) n++;
  return n;
}

/** Copies an origin's response headers onto `target`, leaving hop-by-hop ones out. */
export function copyDownstreamHeaders(upstream: Headers, target: Headers): void {
  const skip = connectionScoped(upstream);
  for (const [name, value] of upstream) if (!skip.has(name)) target.append(name, value);
}

/** The response header set for the client. */
export function downstreamHeaders(upstream: Headers): Headers {
  const out = new Headers();
  copyDownstreamHeaders(upstream, out);
  return out;
}

/** Header hygiene for a forwarding proxy (RFC 9110 §7.6.1): hop-by-hop out, forwarding info in. */

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

const FORWARDED_BY_PROXIES = [
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "forwarded",
];

/** The header set for the origin request. */
export function upstreamHeaders(incoming: Headers, info: ForwardingInfo): Headers {
  const headers = new Headers(incoming);
  stripHopByHop(headers);
  headers.delete("host");
  headers.delete("content-length");
  // Only the edge says who the user is (authorization sets it on protected routes).
  headers.delete("x-user-id");
  if (!info.peerTrusted) { for (const name of FORWARDED_BY_PROXIES) headers.delete(name); }
  const prior = headers.get("x-forwarded-for");
  if (info.peerIp) {
    headers.set("x-forwarded-for", prior ? `${prior}, ${info.peerIp}` : info.peerIp);
  }
  if (!headers.has("x-forwarded-proto")) headers.set("x-forwarded-proto", info.proto);
  if (info.host && !headers.has("x-forwarded-host")) headers.set("x-forwarded-host", info.host);
  const via = headers.get("via");
  headers.set("via", via ? `${via}, 1.1 ${info.via}` : `1.1 ${info.via}`);
  headers.set("x-request-id", info.requestId);
  // Deno's fetch transparently decompresses; ask for identity so bytes pass through unchanged.
  headers.set("accept-encoding", "identity");
  if (info.extra) { for (const [k, v] of Object.entries(info.extra)) headers.set(k, v); }
  return headers;
}

/** Counts how many Outpost hops a `Via` header already lists (loop protection). */
export function outpostHops(via: string | null): number {
  if (!via || via.length > 4096) return 0;
  let n = 0;
  for (const hop of via.split(",")) if (/\boutpost-/.test(hop)) n++;
  return n;
}

/** The response header set for the client. */
export function downstreamHeaders(upstream: Headers): Headers {
  const headers = new Headers(upstream);
  stripHopByHop(headers);
  return headers;
}

/** Who is asking: the direct peer, whether it is a trusted proxy, and the real client address. */

import { type CidrSet, parseIp } from "../net/ip.ts";

const MAX_FORWARDED_LENGTH = 2048;
const MAX_HOPS = 32;

/** Strips an optional port and brackets from one `X-Forwarded-For` entry; null when malformed. */
function cleanHop(hop: string): string | null {
  let text = hop.trim();
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) return null;
    text = text.slice(1, end);
  } else if (
    text.includes(".") && text.includes(":") && text.indexOf(":") === text.lastIndexOf(":")
  ) {
    text = text.slice(0, text.indexOf(":")); // 1.2.3.4:5678
  }
  return parseIp(text) ? text : null;
}

/**
 * The client address: the peer itself unless it is trusted, else the rightmost entry of
 * `X-Forwarded-For` that is not a trusted proxy (the first hop nobody we trust vouches for).
 */
export function clientAddress(
  peer: string | null,
  forwardedFor: string | null,
  trusted: CidrSet,
): string | null {
  if (peer === null || !trusted.has(peer)) return peer;
  if (!forwardedFor || forwardedFor.length > MAX_FORWARDED_LENGTH) return peer;
  const hops = forwardedFor.split(",").slice(-MAX_HOPS);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = cleanHop(hops[i]);
    if (hop === null) return peer; // a malformed chain is not evidence of anything
    if (!trusted.has(hop)) return hop;
  }
  return cleanHop(hops[0]) ?? peer;
}

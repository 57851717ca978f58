/** IP address and CIDR parsing without allocation-heavy tricks: v4 as a uint32, v6 as 4 words. */

/** A parsed IP address. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is returned as IPv4. */
export type IpAddress =
  | { version: 4; value: number }
  | { version: 6; words: [number, number, number, number] };

const V4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses dotted-quad IPv4 into a uint32, or null. */
export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!V4_PART.test(part)) return null;
    value = value * 256 + Number(part);
  }
  return value;
}

/** Parses IPv6 (with `::`, embedded IPv4, and an optional `%zone`) into four uint32 words. */
export function parseIpv6(text: string): [number, number, number, number] | null {
  if (text.length > 64) return null;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 2 ? (halves[1] === "" ? [] : halves[1].split(":")) : [];
  const groups: number[] = [];
  function pushGroups(parts: string[], isLast: boolean): boolean {
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (isLast && i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (v4 === null) return false;
        groups.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return false;
        groups.push(parseInt(part, 16));
      }
    }
    return true;
  }
  if (!pushGroups(head, halves.length === 1)) return null;
  const headCount = groups.length;
  if (!pushGroups(tail, true)) return null;
  const tailGroups = groups.splice(headCount);
  if (halves.length === 2) {
    const missing = 8 - groups.length - tailGroups.length;
    if (missing < 1) return null;
    for (let i = 0; i < missing; i++) groups.push(0);
  }
  groups.push(...tailGroups);
  if (groups.length !== 8) return null;
  return [
    ((groups[0] << 16) | groups[1]) >>> 0,
    ((groups[2] << 16) | groups[3]) >>> 0,
    ((groups[4] << 16) | groups[5]) >>> 0,
    ((groups[6] << 16) | groups[7]) >>> 0,
  ];
}

/** Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 becomes IPv4. Null when malformed. */
export function parseIp(text: string): IpAddress | null {
  if (typeof text !== "string" || text.length === 0 || text.length > 64) return null;
  if (!text.includes(":")) {
    const value = parseIpv4(text);
    return value === null ? null : { version: 4, value };
  }
  const words = parseIpv6(text);
  if (words === null) return null;
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    return { version: 4, value: words[3] };
  }
  return { version: 6, words };
}

/** A CIDR range. */
export interface Cidr {
  version: 4 | 6;
  prefix: number;
  /** The network address: one word for v4, four for v6. */
  words: number[];
}

/** Parses `addr/prefix` (or a bare address, meaning a single host). Null when malformed. */
export function parseCidr(text: string): Cidr | null {
  if (typeof text !== "string") return null;
  const slash = text.indexOf("/");
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  const ip = parseIp(addrText.trim());
  if (!ip) return null;
  // A v4-mapped v6 range is rare in config; treat it as v4 with the prefix shifted.
  const mapped = ip.version === 4 && addrText.includes(":");
  const max = ip.version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p) - (mapped ? 96 : 0);
    if (prefix < 0 || prefix > max) return null;
  }
  const words = ip.version === 4 ? [ip.value] : [...ip.words];
  return { version: ip.version, prefix, words: maskWords(words, prefix) };
}

function maskWords(words: number[], prefix: number): number[] {
  return words.map((w, i) => {
    const bits = Math.max(0, Math.min(32, prefix - i * 32));
    if (bits === 0) return 0;
    if (bits === 32) return w >>> 0;
    return (w & (0xffffffff << (32 - bits))) >>> 0;
  });
}

/** True when `ip` lies in `cidr`. */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.version !== ip.version) return false;
  const words = ip.version === 4 ? [ip.value] : ip.words;
  const masked = maskWords(words, cidr.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== cidr.words[i]) return false;
  return true;
}

/** A set of CIDR ranges with a fast membership test for addresses given as text. */
export class CidrSet {
  readonly #ranges: Cidr[];
  readonly #cache = new Map<string, boolean>();

  constructor(cidrs: Iterable<string>) {
    this.#ranges = [];
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      if (!cidr) throw new TypeError(`Not an IP address or CIDR range: ${text}`);
      this.#ranges.push(cidr);
    }
  }

  get size(): number {
    return this.#ranges.length;
  }

  /** True when the address (text) is in one of the ranges; malformed text is never contained. */
  has(address: string): boolean {
    if (this.#ranges.length === 0) return false;
    const hit = this.#cache.get(address);
    if (hit !== undefined) return hit;
    const ip = parseIp(address);
    const result = ip !== null && this.#ranges.some((r) => cidrContains(r, ip));
    if (this.#cache.size > 4096) this.#cache.clear();
    this.#cache.set(address, result);
    return result;
  }
}

/** Formats a parsed address back to text (v6 in full lower-case groups, without compression). */
export function formatIp(ip: IpAddress): string {
  if (ip.version === 4) {
    const v = ip.value;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  return ip.words.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]).join(":");
}

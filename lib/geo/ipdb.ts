/**
 * The offline IP-to-country database: `@ip-location-db/geo-whois-asn-country` (CC0; GeoFeed,
 * then RIR whois, then ASN data) held in typed arrays and searched without allocating.
 */

import { parseIp } from "../net/ip.ts";
import { parseV4Csv, parseV6Csv, type RangeTable } from "./ipdb_csv.ts";
import type { IpCountryLookup } from "./types.ts";

// Country codes are stored as two packed letters; decode through a table instead of building
// a new string on every lookup.
const CODE_NAMES: string[] = [];
for (let a = 0; a < 26; a++) {
  for (let b = 0; b < 26; b++) CODE_NAMES.push(String.fromCharCode(65 + a, 65 + b));
}

function codeName(packed: number): string {
  return CODE_NAMES[((packed >> 8) - 65) * 26 + ((packed & 0xff) - 65)];
}

// [network, prefix length]: private, loopback, link-local, shared (CGNAT), documentation,
// benchmarking, multicast and reserved space never names a country.
const SPECIAL_V4: ReadonlyArray<readonly [number, number]> = [
  [0x00000000, 8], // 0.0.0.0/8
  [0x0a000000, 8], // 10.0.0.0/8
  [0x64400000, 10], // 100.64.0.0/10
  [0x7f000000, 8], // 127.0.0.0/8
  [0xa9fe0000, 16], // 169.254.0.0/16
  [0xac100000, 12], // 172.16.0.0/12
  [0xc0000000, 24], // 192.0.0.0/24
  [0xc0000200, 24], // 192.0.2.0/24
  [0xc0a80000, 16], // 192.168.0.0/16
  [0xc6120000, 15], // 198.18.0.0/15
  [0xc6336400, 24], // 198.51.100.0/24
  [0xcb007100, 24], // 203.0.113.0/24
  [0xe0000000, 3], // 224.0.0.0/4 multicast and 240.0.0.0/4 reserved
];

function isSpecialV4(value: number): boolean {
  for (const [network, prefix] of SPECIAL_V4) {
    if ((value ^ network) >>> (32 - prefix) === 0) return true;
  }
  return false;
}

function isSpecialV6(w0: number, w1: number, w2: number, w3: number): boolean {
  if (w0 === 0 && w1 === 0 && w2 === 0 && w3 <= 1) return true; // :: and ::1
  const top = w0 >>> 16;
  return (top & 0xfe00) === 0xfc00 || // fc00::/7 unique local
    (top & 0xffc0) === 0xfe80 || // fe80::/10 link-local
    (top & 0xff00) === 0xff00 || // ff00::/8 multicast
    w0 === 0x20010db8; // 2001:db8::/32 documentation
}

/** An IP-to-country database held in memory. Build with {@linkcode IpCountryDb.fromCsv}. */
export class IpCountryDb implements IpCountryLookup {
  readonly #v4: RangeTable;
  readonly #v6: RangeTable;

  /** Use {@linkcode IpCountryDb.fromCsv} or {@linkcode loadIpDatabase}. */
  constructor(v4: RangeTable, v6: RangeTable) {
    this.#v4 = v4;
    this.#v6 = v6;
  }

  /**
   * Builds a database from the package's `-ipv4-num.csv` and `-ipv6-num.csv` texts: lines of
   * `start,end,CC` with inclusive decimal bounds. Malformed lines are skipped (see `skipped`).
   */
  static fromCsv(v4Text: string, v6Text: string): IpCountryDb {
    return new IpCountryDb(parseV4Csv(v4Text), parseV6Csv(v6Text));
  }

  /** The number of ranges, IPv4 and IPv6 together. */
  get size(): number {
    return this.#v4.codes.length + this.#v6.codes.length;
  }

  /** Lines of the CSVs that were not `start,end,CC` and were left out. */
  get skipped(): number {
    return this.#v4.skipped + this.#v6.skipped;
  }

  /**
   * The ISO 3166-1 alpha-2 code (upper case) of the country an address (text, v4 or v6; v4-mapped
   * v6 counts as v4) is registered in; null when the text is not an address, the address is
   * private, loopback or otherwise special, or no range lists it. Never throws.
   */
  lookup(ip: string): string | null {
    const parsed = parseIp(ip);
    if (parsed === null) return null;
    if (parsed.version === 4) {
      return isSpecialV4(parsed.value) ? null : this.#lookupV4(parsed.value);
    }
    const [w0, w1, w2, w3] = parsed.words;
    return isSpecialV6(w0, w1, w2, w3) ? null : this.#lookupV6(w0, w1, w2, w3);
  }

  #lookupV4(value: number): string | null {
    const { starts, ends, codes, parents } = this.#v4;
    // The last row starting at or before the address, then out through enclosing rows.
    let lo = 0, hi = starts.length - 1, row = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid] <= value) {
        row = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    while (row >= 0 && ends[row] < value) row = parents[row];
    return row < 0 ? null : codeName(codes[row]);
  }

  #lookupV6(w0: number, w1: number, w2: number, w3: number): string | null {
    const { starts: s, ends: e, codes, parents } = this.#v6;
    let lo = 0, hi = codes.length - 1, row = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1, b = mid * 4;
      const startsBefore = s[b] !== w0
        ? s[b] < w0
        : s[b + 1] !== w1
        ? s[b + 1] < w1
        : s[b + 2] !== w2
        ? s[b + 2] < w2
        : s[b + 3] <= w3;
      if (startsBefore) {
        row = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    while (row >= 0) {
      const b = row * 4;
      const endsBefore = e[b] !== w0
        ? e[b] < w0
        : e[b + 1] !== w1
        ? e[b + 1] < w1
        : e[b + 2] !== w2
        ? e[b + 2] < w2
        : e[b + 3] < w3;
      if (!endsBefore) return codeName(codes[row]);
      row = parents[row];
    }
    return null;
  }
}

/**
 * Loads the real database from the npm package (text imports, so the CSVs are part of the
 * module graph and deploy with the app). Takes about half a second, of which ~170 ms parsing
 * that blocks the event loop. Keeps ~12 MB of typed arrays; the module cache also keeps the
 * CSV texts (~24 MB of heap) alive, as imported modules are never unloaded.
 */
export async function loadIpDatabase(): Promise<IpCountryDb> {
  const [v4, v6] = await Promise.all([
    import("@ip-location-db/geo-whois-asn-country/geo-whois-asn-country-ipv4-num.csv", {
      with: { type: "text" },
    }),
    import("@ip-location-db/geo-whois-asn-country/geo-whois-asn-country-ipv6-num.csv", {
      with: { type: "text" },
    }),
  ]);
  return IpCountryDb.fromCsv(v4.default, v6.default);
}

/** Addresses whose answers a {@linkcode LazyIpCountry} keeps (about 100 bytes each). */
const RECENT_LOOKUPS = 4096;

/** What `/_edge/health?verbose=1` says of the IP database. */
export type IpDatabaseState = "off" | "loading" | "ready" | "failed";

/**
 * An IP-to-country lookup that answers null until its database has loaded in the background,
 * so the server can start at once. `load()` never rejects: a failure is kept in `error` (and a
 * later `load()` tries again).
 */
export class LazyIpCountry implements IpCountryLookup {
  #db: IpCountryLookup | null = null;
  readonly #recent = new Map<string, string | null>();
  #error: unknown = undefined;
  #loading: Promise<void> | null = null;

  /** True once a database has loaded. */
  get ready(): boolean {
    return this.#db !== null;
  }

  /** Where the database stands: never asked for, loading, loaded, or the last load failed. */
  get state(): IpDatabaseState {
    if (this.#db !== null) return "ready";
    if (this.#loading !== null) return "loading";
    return this.#error === undefined ? "off" : "failed";
  }

  /** The loaded database's number of ranges; 0 before it has loaded. */
  get size(): number {
    const size = (this.#db as { size?: unknown } | null)?.size;
    return typeof size === "number" ? size : 0;
  }

  /** Why the last load failed; undefined when it has not failed. */
  get error(): unknown {
    return this.#error;
  }

  /** The country of `ip` once loaded; null before then and for unknown addresses. */
  lookup(ip: string): string | null {
    if (this.#db === null) return null;
    // Clients come back (kept-alive connections, page loads): a map hit costs less than a parse
    // and a search. Cleared when full rather than ordered: a miss only costs the lookup.
    let country = this.#recent.get(ip);
    if (country !== undefined) return country;
    country = this.#db.lookup(ip);
    if (this.#recent.size >= RECENT_LOOKUPS) this.#recent.clear();
    this.#recent.set(ip, country);
    return country;
  }

  /** Loads the database (once; concurrent calls share the load). Resolves, never rejects. */
  load(loader: () => Promise<IpCountryLookup> = loadIpDatabase): Promise<void> {
    if (this.#db !== null) return Promise.resolve();
    this.#loading ??= this.#run(loader);
    return this.#loading;
  }

  async #run(loader: () => Promise<IpCountryLookup>): Promise<void> {
    try {
      // Start the loader after `#loading` is set, so a loader that throws at once still clears it.
      const db = await Promise.resolve().then(loader);
      this.#db = db;
      this.#error = undefined;
    } catch (error) {
      this.#error = error;
    } finally {
      this.#loading = null;
    }
  }
}

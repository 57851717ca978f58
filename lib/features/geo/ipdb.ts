/**
 * The offline IP-to-country database: `@ip-location-db/geo-whois-asn-country-mmdb` (CC0; GeoFeed,
 * then RIR whois, then ASN data), a MaxMind DB read in place with `mmdb-lib`. Loading it is an
 * import of its bytes and a read of its metadata, not a parse: the node loads it after it
 * listens (see `LazyIpCountry`), and its modules stay out of the start-up graph.
 */

import type { Reader, Response } from "mmdb-lib";
import { formatIp, parseIp } from "../../platform/net/ip.ts";
import type { IpCountryLookup } from "./types.ts";

// [network, prefix length]: private, loopback, link-local, shared (CGNAT), documentation,
// benchmarking, multicast and reserved space never names a country (the data lists some).
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

/** The record the ip-location-db files give for an address (not one of MaxMind's own shapes). */
interface CountryRecord {
  country_code?: unknown;
}

const COUNTRY_CODE = /^[A-Z]{2}$/;

/**
 * `mmdb-lib`'s decoded-record cache, bounded: the data has one record per country, but a file
 * with more must not grow memory without end (records past the bound are decoded each time).
 */
class RecordCache {
  readonly #map = new Map<string | number, unknown>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string | number): unknown {
    return this.#map.get(key);
  }

  set(key: string | number, value: unknown): void {
    if (this.#map.size < this.#max) this.#map.set(key, value);
  }
}

/** An IP-to-country database in MaxMind DB format. Build with {@linkcode IpCountryDb.fromMmdb}. */
export class IpCountryDb implements IpCountryLookup {
  readonly #reader: Reader<Response>;

  /** Use {@linkcode IpCountryDb.fromMmdb} or {@linkcode loadIpDatabase}. */
  constructor(reader: Reader<Response>) {
    this.#reader = reader;
  }

  /**
   * Reads a MaxMind DB whose records carry `country_code` (ISO 3166-1 alpha-2), as the
   * ip-location-db country files do. The bytes are used in place, not copied. Throws when they
   * are not a MaxMind DB.
   */
  static async fromMmdb(bytes: Uint8Array): Promise<IpCountryDb> {
    const [{ Reader }, { Buffer }] = await Promise.all([import("mmdb-lib"), import("node:buffer")]);
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new IpCountryDb(new Reader<Response>(buffer, { cache: new RecordCache(4096) }));
  }

  /** The number of nodes in its search tree (how big it is; not a count of ranges). */
  get size(): number {
    return this.#reader.metadata.nodeCount;
  }

  /** When the data was built. */
  get builtAt(): Date {
    return this.#reader.metadata.buildEpoch;
  }

  /**
   * The ISO 3166-1 alpha-2 code (upper case) of the country an address (text, v4 or v6; v4-mapped
   * v6 counts as v4) is registered in; null when the text is not an address, the address is
   * private, loopback or otherwise special, or the database does not list it. Never throws.
   */
  lookup(ip: string): string | null {
    const parsed = parseIp(ip);
    if (parsed === null) return null;
    if (parsed.version === 4) {
      if (isSpecialV4(parsed.value)) return null;
    } else {
      const [w0, w1, w2, w3] = parsed.words;
      if (isSpecialV6(w0, w1, w2, w3)) return null;
    }
    try {
      // The reader parses addresses without validating them: it only ever sees canonical text.
      const record = this.#reader.get(formatIp(parsed)) as CountryRecord | null;
      const code = record?.country_code;
      return typeof code === "string" && COUNTRY_CODE.test(code) ? code : null;
    } catch {
      return null; // a damaged file answers "unknown" for what it cannot read
    }
  }
}

/**
 * Loads the real database from the npm package: its bytes are imported (so the file is part of
 * the module graph and deploys with the app; bytes imports need the `raw-imports` unstable
 * feature, set in deno.json) and read in place. Keeps the file's ~7.5 MB outside the JS heap.
 */
export async function loadIpDatabase(): Promise<IpCountryDb> {
  const { default: bytes } = await import(
    "@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb",
    { with: { type: "bytes" } }
  );
  return await IpCountryDb.fromMmdb(bytes);
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

  /** The loaded database's `size` (for the real one, its search tree's nodes); 0 before. */
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

  /**
   * Loads the database (once; concurrent calls share the load). Resolves, never rejects. With
   * `after`, the state is "loading" at once but the loader starts only when `after` settles
   * (reading the real database blocks the event loop for a while; see main.ts).
   */
  load(
    loader: () => Promise<IpCountryLookup> = loadIpDatabase,
    options: { after?: Promise<unknown> } = {},
  ): Promise<void> {
    if (this.#db !== null) return Promise.resolve();
    this.#loading ??= this.#run(loader, options.after);
    return this.#loading;
  }

  async #run(loader: () => Promise<IpCountryLookup>, after?: Promise<unknown>): Promise<void> {
    try {
      await after?.catch(() => {});
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

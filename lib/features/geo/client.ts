/**
 * Where a client is: trusted proxy and CDN headers first, then the offline IP database, then
 * the configured default. Pure: headers in, location out (`lazy.ts` defers it per request).
 */

import type { Region } from "../../core/fields.ts";
import type { CountryRegion, Nearest, RegionIndex } from "./regions.ts";
import type { ClientGeo, GeoSource, IpCountryLookup } from "./types.ts";

/** What {@linkcode resolveClientGeo} looks at. */
export interface ClientGeoInput {
  headers: Headers;
  /** True when the peer is a configured proxy: only then are location headers believed. */
  peerTrusted: boolean;
  clientIp: string | null;
}

/** A fixed location for clients nothing else locates. */
export interface DefaultLocation {
  lat: number;
  lon: number;
  country?: string;
}

/** Options for {@linkcode resolveClientGeo}. */
export interface ClientGeoOptions {
  regions: RegionIndex;
  ipdb?: IpCountryLookup;
  defaultLocation?: DefaultLocation;
}

interface GeoInit {
  source: GeoSource;
  country: string | null;
  lat: number | null;
  lon: number | null;
  region: Region;
  /** A number, a lazily measured result, or null for an unknown location. */
  distance: number | Nearest | null;
  /** Null: rank from `lat`/`lon` on first use. */
  ranked: readonly Region[] | null;
}

/**
 * A resolved location. `distanceKm` is a getter (measured on first read for points given as
 * coordinates), so spread a `ClientGeo` with care; `JSON.stringify` includes it via `toJSON`.
 */
class ResolvedGeo implements ClientGeo {
  readonly source: GeoSource;
  readonly country: string | null;
  readonly lat: number | null;
  readonly lon: number | null;
  readonly nearestRegion: string;
  readonly #regions: RegionIndex;
  readonly #distance: number | Nearest | null;
  #ranked: readonly Region[] | null;

  constructor(regions: RegionIndex, init: GeoInit) {
    this.#regions = regions;
    this.source = init.source;
    this.country = init.country;
    this.lat = init.lat;
    this.lon = init.lon;
    this.nearestRegion = init.region.name;
    this.#distance = init.distance;
    this.#ranked = init.ranked;
  }

  get distanceKm(): number | null {
    const d = this.#distance;
    return d === null || typeof d === "number" ? d : d.distanceKm;
  }

  /** An own property, so `const { ranked } = geo` works too. */
  readonly ranked = (): readonly Region[] => {
    this.#ranked ??= Object.freeze(this.#regions.ranked(this.lat!, this.lon!));
    return this.#ranked;
  };

  toJSON(): Omit<ClientGeo, "ranked"> {
    const { source, country, lat, lon, nearestRegion, distanceKm } = this;
    return { source, country, lat, lon, nearestRegion, distanceKm };
  }
}

const DECIMAL = /^[+-]?\d{1,3}(?:\.\d+)?$/;
const COUNTRY = /^[A-Za-z]{2}$/;

/** A strict decimal within ±limit, or null (`1e3`, `0x10`, `NaN`, `Infinity`, "" are not). */
function parseCoordinate(value: string | null, limit: number): number | null {
  if (value === null || value.length > 32 || !DECIMAL.test(value)) return null;
  const n = Number(value);
  return n >= -limit && n <= limit ? n : null;
}

interface Point {
  lat: number;
  lon: number;
  country: string | null;
}

/** Coordinates from two headers; the longitude is read only when the latitude is valid. */
function parsePoint(headers: Headers, names: readonly string[], country: string | null) {
  const lat = parseCoordinate(headers.get(names[0]), 90);
  if (lat === null) return null;
  const lon = parseCoordinate(headers.get(names[1]), 180);
  return lon === null ? null : { lat, lon, country } satisfies Point;
}

function isPoint(lat: unknown, lon: unknown): boolean {
  return typeof lat === "number" && lat >= -90 && lat <= 90 &&
    typeof lon === "number" && lon >= -180 && lon <= 180;
}

/** The upper-case code and precomputed entry of a known country, or null. */
function knownCountry(regions: RegionIndex, cc: string | null): [string, CountryRegion] | null {
  if (cc === null || !COUNTRY.test(cc)) return null; // also rejects CDN's "T1" and long text
  const code = cc.toUpperCase();
  const entry = regions.forCountry(code);
  return entry === undefined ? null : [code, entry];
}

function fromCountry(regions: RegionIndex, source: GeoSource, known: [string, CountryRegion]) {
  const [country, { lat, lon, region, distanceKm, ranked }] = known;
  return new ResolvedGeo(regions, {
    source,
    country,
    lat,
    lon,
    region,
    distance: distanceKm,
    ranked,
  });
}

function fromPoint(regions: RegionIndex, source: GeoSource, point: Point) {
  const { lat, lon, country } = point;
  const nearest = regions.nearest(lat, lon);
  return new ResolvedGeo(regions, {
    source,
    country,
    lat,
    lon,
    region: nearest.region,
    distance: nearest,
    ranked: null,
  });
}

/** Vercel and CloudFront: coordinates when both are valid, else the country's centroid. */
function fromCdn(regions: RegionIndex, source: GeoSource, headers: Headers) {
  const names = source === "vercel" ? VERCEL : CLOUDFRONT;
  const known = knownCountry(regions, headers.get(names[2]));
  const point = parsePoint(headers, names, known?.[0] ?? null);
  if (point !== null) return fromPoint(regions, source, point);
  return known === null ? null : fromCountry(regions, source, known);
}

const USER = ["x-user-lat", "x-user-lon"] as const;
const VERCEL = ["x-vercel-ip-latitude", "x-vercel-ip-longitude", "x-vercel-ip-country"] as const;
const CLOUDFRONT = [
  "cloudfront-viewer-latitude",
  "cloudfront-viewer-longitude",
  "cloudfront-viewer-country",
] as const;

function lookupCountry(ipdb: IpCountryLookup, ip: string): string | null {
  try {
    const cc = ipdb.lookup(ip);
    return typeof cc === "string" ? cc : null;
  } catch {
    return null; // a lookup that throws is a lookup that found nothing
  }
}

// The default location's answer never changes for a given index: compute it once.
const defaultCache = new WeakMap<RegionIndex, WeakMap<DefaultLocation, GeoInit>>();

function fromDefault(regions: RegionIndex, location: DefaultLocation | undefined) {
  if (location === undefined || !isPoint(location.lat, location.lon)) {
    const init: GeoInit = {
      source: "default",
      country: null,
      lat: null,
      lon: null,
      region: regions.default,
      distance: null,
      ranked: regions.rankedFromDefault(),
    };
    return new ResolvedGeo(regions, init);
  }
  let byLocation = defaultCache.get(regions);
  if (byLocation === undefined) defaultCache.set(regions, byLocation = new WeakMap());
  let init = byLocation.get(location);
  const { lat, lon } = location;
  if (init === undefined || init.lat !== lat || init.lon !== lon) {
    const { region, distanceKm } = regions.nearest(lat, lon);
    const country = knownCountry(regions, location.country ?? null)?.[0] ?? null;
    const ranked = Object.freeze(regions.ranked(lat, lon));
    init = { source: "default", country, lat, lon, region, distance: distanceKm, ranked };
    byLocation.set(location, init);
  }
  return new ResolvedGeo(regions, init);
}

/**
 * Locates a client. In order: `X-User-Lat`/`X-User-Lon`, then `CF-IPCountry`, Vercel's and
 * CloudFront's headers (all only when `peerTrusted`), then `clientIp` in `ipdb`, then
 * `defaultLocation`, else an unknown location routed to the default region. A malformed or
 * out-of-range value is ignored and the next source is tried. Never throws.
 */
export function resolveClientGeo(input: ClientGeoInput, options: ClientGeoOptions): ClientGeo {
  const { regions, ipdb } = options;
  if (input.peerTrusted) {
    const h = input.headers;
    const user = parsePoint(h, USER, null);
    if (user !== null) return fromPoint(regions, "user-headers", user);
    const cloudflare = knownCountry(regions, h.get("cf-ipcountry"));
    if (cloudflare !== null) return fromCountry(regions, "cloudflare", cloudflare);
    const cdn = fromCdn(regions, "vercel", h) ?? fromCdn(regions, "cloudfront", h);
    if (cdn !== null) return cdn;
  }
  if (ipdb !== undefined && typeof input.clientIp === "string") {
    const known = knownCountry(regions, lookupCountry(ipdb, input.clientIp));
    if (known !== null) return fromCountry(regions, "ip-database", known);
  }
  return fromDefault(regions, options.defaultLocation);
}

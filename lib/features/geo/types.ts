/** Types shared by the client-location code and its users. */

import type { Region } from "../../core/fields.ts";

/** Where a client's location came from, in order of precedence. */
export type GeoSource =
  | "user-headers" // X-User-Lat / X-User-Lon from a trusted proxy
  | "cloudflare" // CF-IPCountry (country centroid)
  | "vercel" // x-vercel-ip-latitude / -longitude / -country
  | "cloudfront" // CloudFront-Viewer-Latitude / -Longitude / -Country
  | "ip-database" // the client IP in the offline IP-to-country database (country centroid)
  | "default"; // the configured default location, or none

/** The client's location and the region nearest to it. */
export interface ClientGeo {
  source: GeoSource;
  /** ISO 3166-1 alpha-2, upper case, when known. */
  country: string | null;
  lat: number | null;
  lon: number | null;
  /** The nearest region by geodesic distance; the default region for unknown locations. */
  nearestRegion: string;
  /** Geodesic distance to `nearestRegion` in km; null when the location is unknown. */
  distanceKm: number | null;
  /** Every region, nearest first (the order origins are tried in). Computed on first use. */
  ranked(): readonly Region[];
}

/** Looks up the country of an IP address (text); null when unknown or malformed. */
export interface IpCountryLookup {
  lookup(ip: string): string | null;
}

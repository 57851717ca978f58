/** Country centroids (ISO 3166-1 alpha-2 → lat/lon) from the `world-countries` data set. */

import worldCountries from "world-countries";

/** A point given in degrees. */
export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

interface CountryRecord {
  cca2: unknown;
  latlng: unknown;
}

// The package is CommonJS re-exporting a JSON array; its types describe an ES default export, so
// the default import is typed as the namespace. Accept either shape at run time.
function countryRecords(): CountryRecord[] {
  const mod: unknown = worldCountries;
  const list = Array.isArray(mod) ? mod : (mod as { default?: unknown }).default;
  return Array.isArray(list) ? list : [];
}

function buildCentroids(): ReadonlyMap<string, LatLon> {
  const map = new Map<string, LatLon>();
  for (const record of countryRecords()) {
    const { cca2, latlng } = record;
    if (typeof cca2 !== "string" || !/^[A-Z]{2}$/.test(cca2) || !Array.isArray(latlng)) continue;
    const [lat, lon] = latlng;
    if (typeof lat !== "number" || !(lat >= -90 && lat <= 90)) continue;
    if (typeof lon !== "number" || !(lon >= -180 && lon <= 180)) continue;
    map.set(cca2, Object.freeze({ lat, lon }));
  }
  return map;
}

const CENTROIDS = buildCentroids();

/**
 * The centroid of a country given by its ISO 3166-1 alpha-2 code (any case), or undefined for a
 * malformed or unknown code (including the CDN placeholders `XX` and `T1`).
 *
 * @example
 * ```ts
 * countryCentroid("fr"); // { lat: 46, lon: 2 }
 * ```
 */
export function countryCentroid(cc: string): LatLon | undefined {
  if (typeof cc !== "string" || cc.length !== 2) return undefined;
  const hit = CENTROIDS.get(cc);
  if (hit !== undefined) return hit;
  // Check the shape first: `toUpperCase()` maps some non-ASCII letters to ASCII ("ſ" → "S").
  return /^[A-Za-z]{2}$/.test(cc) ? CENTROIDS.get(cc.toUpperCase()) : undefined;
}

/** Every known country code (upper case) with its centroid. */
export function countryCentroids(): ReadonlyMap<string, LatLon> {
  return CENTROIDS;
}

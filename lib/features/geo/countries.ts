/**
 * Country centroids (ISO 3166-1 alpha-2 → lat/lon) from the `world-countries` data set, as
 * extracted into centroids.json by tools/build_centroids.ts (a small table instead of the whole
 * 1.4 MB data set on every start).
 */

import table from "./centroids.json" with { type: "json" };

/** A point given in degrees. */
export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

function buildCentroids(): ReadonlyMap<string, LatLon> {
  const map = new Map<string, LatLon>();
  for (const [cc, point] of Object.entries(table.centroids as Record<string, unknown>)) {
    if (!/^[A-Z]{2}$/.test(cc) || !Array.isArray(point)) continue;
    const [lat, lon] = point;
    if (typeof lat !== "number" || !(lat >= -90 && lat <= 90)) continue;
    if (typeof lon !== "number" || !(lon >= -180 && lon <= 180)) continue;
    map.set(cc, Object.freeze({ lat, lon }));
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

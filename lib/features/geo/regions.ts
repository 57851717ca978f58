/**
 * Which region is nearest to a point, and the failover order of all regions, by exact WGS84
 * geodesic distance. Built once from the config; each lookup ranks the regions on the sphere
 * (cheap) and pays for the exact geodesic only where the sphere cannot decide.
 *
 * Ties: regions whose geodesic distances are within 1 metre of each other are tied. A tie goes
 * to the default region when it is one of the tied regions, else to the one listed first in
 * the config; `ranked()` orders tied regions the same way.
 */

import type { Region } from "../../core/fields.ts";
import { countryCentroids } from "./countries.ts";
import { EARTH_MEAN_RADIUS_KM, geodesicKm, SPHERICAL_ERROR } from "./distance.ts";

const RAD = Math.PI / 180;
const R = EARTH_MEAN_RADIUS_KM;
const { REL, ABS_KM } = SPHERICAL_ERROR;
/** Geodesic distances closer than this (1 m) are a tie. */
const TIE_KM = 0.001;

/** The nearest region to a point and its geodesic distance in km. */
export interface Nearest {
  readonly region: Region;
  readonly distanceKm: number;
}

/** A country's centroid, its nearest region and every region in failover order. */
export interface CountryRegion {
  readonly lat: number;
  readonly lon: number;
  readonly region: Region;
  /** Geodesic distance in km from the centroid to `region`. */
  readonly distanceKm: number;
  readonly ranked: readonly Region[];
}

function checkPoint(lat: number, lon: number): void {
  if (!(lat >= -90 && lat <= 90)) throw new RangeError(`Invalid latitude: ${lat}`);
  if (!(lon >= -180 && lon <= 180)) throw new RangeError(`Invalid longitude: ${lon}`);
}

/** Spherical distance (km) from a squared chord between unit vectors. */
function chordToKm(chord2: number): number {
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(chord2) / 2));
}

/** Largest spherical distance whose geodesic may still be within a tie of `bestKm`'s. */
function candidateLimitKm(bestKm: number): number {
  return (bestKm * (1 + REL) + 2 * ABS_KM + TIE_KM) / (1 - REL);
}

/** `candidateLimitKm` as a squared chord, so the hot loop compares without trigonometry. */
function candidateLimitChord2(bestChord2: number): number {
  const angle = candidateLimitKm(chordToKm(bestChord2)) / R;
  if (angle >= Math.PI) return Infinity;
  const chord = 2 * Math.sin(angle / 2);
  return chord * chord;
}

/**
 * A result whose geodesic distance is computed on first read. A class, not an object literal
 * with a getter: V8 builds those about 50 times slower. `toJSON` keeps the distance in JSON.
 */
class LazyNearest implements Nearest {
  readonly region: Region;
  readonly #lat: number;
  readonly #lon: number;
  #km = -1;

  constructor(region: Region, lat: number, lon: number) {
    this.region = region;
    this.#lat = lat;
    this.#lon = lon;
  }

  get distanceKm(): number {
    if (this.#km < 0) this.#km = geodesicKm(this.#lat, this.#lon, this.region.lat, this.region.lon);
    return this.#km;
  }

  toJSON(): { region: Region; distanceKm: number } {
    return { region: this.region, distanceKm: this.distanceKm };
  }
}

/** Regions indexed for nearest-region and failover-order lookups. Immutable once built. */
export class RegionIndex {
  readonly #regions: readonly Region[];
  readonly #byName = new Map<string, Region>();
  readonly #defaultIndex: number;
  // Unit vectors of the regions: squared chord length ranks them like spherical distance.
  readonly #x: Float64Array;
  readonly #y: Float64Array;
  readonly #z: Float64Array;
  // Scratch space for one lookup (lookups are synchronous, so never shared by two at once).
  readonly #chord2: Float64Array;
  readonly #km: Float64Array;
  readonly #countries = new Map<string, CountryRegion>();
  readonly #fromDefault: readonly Region[];

  /**
   * Indexes `regions` (at least one, unique names) with `defaultRegion` taking unknown
   * locations and ties. A country's nearest region is computed on its first lookup and kept
   * (all of them at once would cost start-up about 1 ms per 4 regions, plus warming the
   * geodesic code).
   */
  constructor(regions: readonly Region[], defaultRegion: string) {
    if (regions.length === 0) throw new RangeError("No regions: at least one is needed");
    const n = regions.length;
    this.#regions = Object.freeze([...regions]);
    this.#x = new Float64Array(n);
    this.#y = new Float64Array(n);
    this.#z = new Float64Array(n);
    this.#chord2 = new Float64Array(n);
    this.#km = new Float64Array(n);
    regions.forEach((region, i) => {
      checkPoint(region.lat, region.lon);
      if (this.#byName.has(region.name)) throw new Error(`Duplicate region: ${region.name}`);
      this.#byName.set(region.name, region);
      const phi = region.lat * RAD, lambda = region.lon * RAD;
      this.#x[i] = Math.cos(phi) * Math.cos(lambda);
      this.#y[i] = Math.cos(phi) * Math.sin(lambda);
      this.#z[i] = Math.sin(phi);
    });
    this.#defaultIndex = regions.findIndex((r) => r.name === defaultRegion);
    if (this.#defaultIndex < 0) throw new RangeError(`Unknown default region: ${defaultRegion}`);

    const def = regions[this.#defaultIndex];
    const fromDefault = this.#rankIndices(def.lat, def.lon).filter((i) => i !== this.#defaultIndex);
    this.#fromDefault = Object.freeze([def, ...fromDefault.map((i) => regions[i])]);
  }

  /** The default region: for unknown locations and ties. */
  get default(): Region {
    return this.#regions[this.#defaultIndex];
  }

  /** Every region, in config order. */
  get all(): readonly Region[] {
    return this.#regions;
  }

  /** The region with this name, if any. */
  byName(name: string): Region | undefined {
    return this.#byName.get(name);
  }

  /**
   * The region nearest to a point by geodesic distance (ties as described in the module doc).
   * When the sphere alone picked the winner, `distanceKm` is a getter computed on first read
   * (so `{ ...result }` may drop it; JSON keeps it); otherwise it is a plain property.
   * Throws RangeError for a latitude outside −90…90 or a longitude outside −180…180.
   */
  nearest(lat: number, lon: number): Nearest {
    checkPoint(lat, lon);
    const regions = this.#regions;
    const n = regions.length;
    if (n === 1) return new LazyNearest(regions[0], lat, lon);
    const chord2 = this.#fillChords(lat, lon);
    let best = 0, bestC = Infinity, secondC = Infinity;
    for (let i = 0; i < n; i++) {
      const c = chord2[i];
      if (c < bestC) {
        secondC = bestC;
        bestC = c;
        best = i;
      } else if (c < secondC) secondC = c;
    }
    const limit = candidateLimitChord2(bestC);
    if (secondC > limit) return new LazyNearest(regions[best], lat, lon);

    // The sphere cannot decide: measure every candidate exactly.
    const km = this.#km;
    let minKm = Infinity;
    for (let i = 0; i < n; i++) {
      km[i] = chord2[i] <= limit ? geodesicKm(lat, lon, regions[i].lat, regions[i].lon) : Infinity;
      if (km[i] < minKm) minKm = km[i];
    }
    let winner = this.#defaultIndex;
    if (!(km[winner] <= minKm + TIE_KM)) {
      winner = 0;
      while (!(km[winner] <= minKm + TIE_KM)) winner++;
    }
    return { region: regions[winner], distanceKm: km[winner] };
  }

  /** Every region, nearest first by geodesic distance (the failover order); ties as above. */
  ranked(lat: number, lon: number): Region[] {
    checkPoint(lat, lon);
    return this.#rankIndices(lat, lon).map((i) => this.#regions[i]);
  }

  /**
   * The nearest region and failover order for a country's centroid (for every country in
   * `world-countries`; computed on first use). Takes an ISO 3166-1 alpha-2 code (upper case); undefined
   * for anything else.
   */
  forCountry(cc: string): CountryRegion | undefined {
    const known = this.#countries.get(cc);
    if (known !== undefined) return known;
    const centroid = countryCentroids().get(cc);
    if (centroid === undefined) return undefined;
    const { lat, lon } = centroid;
    const ranked = Object.freeze(this.#rankIndices(lat, lon).map((i) => this.#regions[i]));
    const region = ranked[0];
    const distanceKm = geodesicKm(lat, lon, region.lat, region.lon);
    const entry: CountryRegion = Object.freeze({ lat, lon, region, distanceKm, ranked });
    this.#countries.set(cc, entry);
    return entry;
  }

  /** For an unknown location: the default region first, then the rest by distance from it. */
  rankedFromDefault(): readonly Region[] {
    return this.#fromDefault;
  }

  #fillChords(lat: number, lon: number): Float64Array {
    const phi = lat * RAD, lambda = lon * RAD;
    const cosPhi = Math.cos(phi);
    const px = cosPhi * Math.cos(lambda), py = cosPhi * Math.sin(lambda), pz = Math.sin(phi);
    const xs = this.#x, ys = this.#y, zs = this.#z, chord2 = this.#chord2;
    for (let i = 0; i < chord2.length; i++) {
      const dx = xs[i] - px, dy = ys[i] - py, dz = zs[i] - pz;
      chord2[i] = dx * dx + dy * dy + dz * dz;
    }
    return chord2;
  }

  /** Region indices nearest first. Exact geodesics only for regions the sphere can't order. */
  #rankIndices(lat: number, lon: number): number[] {
    const n = this.#regions.length;
    const chord2 = this.#fillChords(lat, lon);
    const key = Array.from(chord2, chordToKm);
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => key[a] - key[b] || a - b);
    // Each spherical distance bounds its geodesic; bounds grow with the distance, so a region
    // whose bounds overlap no neighbour's (in this order) is ordered correctly by the sphere.
    const exact = new Uint8Array(n);
    for (let k = 0; k + 1 < n; k++) {
      const a = order[k], b = order[k + 1];
      const hiA = key[a] * (1 + REL) + ABS_KM, loB = key[b] * (1 - REL) - ABS_KM;
      if (hiA + TIE_KM >= loB) exact[a] = exact[b] = 1;
    }
    for (let i = 0; i < n; i++) {
      if (exact[i]) key[i] = geodesicKm(lat, lon, this.#regions[i].lat, this.#regions[i].lon);
    }
    order.sort((a, b) => key[a] - key[b] || a - b);
    // Group ties (within 1 m of a group's nearest): the default first, then config order.
    const out: number[] = [];
    for (let k = 0; k < n;) {
      let end = k + 1;
      while (end < n && key[order[end]] <= key[order[k]] + TIE_KM) end++;
      const group = order.slice(k, end).sort((a, b) => a - b);
      const d = group.indexOf(this.#defaultIndex);
      if (d > 0) group.unshift(...group.splice(d, 1));
      out.push(...group);
      k = end;
    }
    return out;
  }
}

/**
 * Which edge a simulated user reaches. By default the product's own geo routing: the region
 * nearest to the city by geodesic distance (lib/features/geo's `RegionIndex`, what `/_edge/whereami`
 * answers and what the edge uses to pick origins). `--routing rtt` models latency-based DNS or
 * anycast instead: the edge with the lowest measured RTT. The two differ where undersea routes
 * do not follow great circles (Sydney: Singapore is nearer, California answers faster).
 */

import { geodesicKm } from "../../lib/features/geo/distance.ts";
import { RegionIndex } from "../../lib/features/geo/regions.ts";
import { type City, clientRttMs, nearestByRtt, type RttOptions } from "./latency.ts";
import type { EdgeSpec } from "./topology.ts";

/** How users are sent to edges. */
export type Routing = "geo" | "rtt";

/** One city's edge under both routings. */
export interface CityRoute {
  city: string;
  /** The edge the run used. */
  edge: string;
  geo: { edge: string; km: number; rttMs: number };
  rtt: { edge: string; km: number; rttMs: number };
}

/** Chooses edges for cities, by `routing`, and says what the other routing would choose. */
export class EdgeRouter {
  readonly routing: Routing;
  readonly #edges: readonly EdgeSpec[];
  readonly #index: RegionIndex;
  readonly #rtt: RttOptions;

  constructor(edges: readonly EdgeSpec[], routing: Routing, rtt: RttOptions = {}) {
    if (edges.length === 0) throw new RangeError("No edges to route to");
    this.routing = routing;
    this.#edges = edges;
    this.#rtt = rtt;
    // The origin is irrelevant to choosing a region; the index needs one per region.
    const regions = edges.map((e) => ({
      name: e.region,
      lat: e.lat,
      lon: e.lon,
      origin: "internal://demo",
    }));
    const fallback = edges.some((e) => e.region === "us-east") ? "us-east" : edges[0].region;
    this.#index = new RegionIndex(regions, fallback);
  }

  /** The edge the product's geo routing names for `city`. */
  byGeo(city: City): EdgeSpec {
    const name = this.#index.nearest(city.lat, city.lon).region.name;
    return this.#edges.find((e) => e.region === name)!;
  }

  /** The edge with the lowest measured RTT from `city`. */
  byRtt(city: City): EdgeSpec {
    return nearestByRtt(city, this.#edges);
  }

  /** The edge `city`'s users reach in this run. */
  edgeFor(city: City): EdgeSpec {
    return this.routing === "geo" ? this.byGeo(city) : this.byRtt(city);
  }

  /** Both choices for `city`, with distance and RTT to each. */
  route(city: City): CityRoute {
    const describe = (e: EdgeSpec) => ({
      edge: e.region,
      km: Math.round(geodesicKm(city.lat, city.lon, e.lat, e.lon)),
      rttMs: Math.round(clientRttMs(city, e.site, this.#rtt) * 10) / 10,
    });
    return {
      city: city.name,
      edge: this.edgeFor(city).region,
      geo: describe(this.byGeo(city)),
      rtt: describe(this.byRtt(city)),
    };
  }
}

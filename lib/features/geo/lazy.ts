/** A `ClientGeo` resolved on first use, so routes that never ask where the client is pay nothing. */

import type { Region } from "../../core/fields.ts";
import { type ClientGeoOptions, resolveClientGeo } from "./client.ts";
import type { ClientGeo, GeoSource } from "./types.ts";

/** Resolves with {@linkcode resolveClientGeo} the first time any field is read. */
export class LazyClientGeo implements ClientGeo {
  readonly #headers: Headers;
  readonly #peerTrusted: boolean;
  readonly #clientIp: string | null;
  readonly #options: ClientGeoOptions;
  #geo: ClientGeo | null = null;

  constructor(
    input: { headers: Headers; peerTrusted: boolean; clientIp: string | null },
    options: ClientGeoOptions,
  ) {
    this.#headers = input.headers;
    this.#peerTrusted = input.peerTrusted;
    this.#clientIp = input.clientIp;
    this.#options = options;
  }

  #resolved(): ClientGeo {
    return this.#geo ??= resolveClientGeo(
      { headers: this.#headers, peerTrusted: this.#peerTrusted, clientIp: this.#clientIp },
      this.#options,
    );
  }

  get source(): GeoSource {
    return this.#resolved().source;
  }
  get country(): string | null {
    return this.#resolved().country;
  }
  get lat(): number | null {
    return this.#resolved().lat;
  }
  get lon(): number | null {
    return this.#resolved().lon;
  }
  get nearestRegion(): string {
    return this.#resolved().nearestRegion;
  }
  get distanceKm(): number | null {
    return this.#resolved().distanceKm;
  }
  ranked(): readonly Region[] {
    return this.#resolved().ranked();
  }
  toJSON(): unknown {
    const g = this.#resolved();
    return {
      source: g.source,
      country: g.country,
      lat: g.lat,
      lon: g.lon,
      nearestRegion: g.nearestRegion,
      distanceKm: g.distanceKm,
    };
  }
}

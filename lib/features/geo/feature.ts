/**
 * The geo feature: the configured regions, where clients are (trusted headers, the IP database,
 * the default location) and which region is nearest; health says when the IP database is still
 * loading or failed.
 */

import type { ConditionCheck } from "../../core/conditions.ts";
import { WARMING_CONDITION } from "../../core/conditions.ts";
import type { Feature } from "../../core/feature.ts";
import { defaultRegionOf } from "../../core/fields.ts";
import { GEO_CONFIG, type GEO_FIELDS } from "./config.ts";
import type { IpDatabaseState } from "./ipdb.ts";
import { LazyClientGeo } from "./lazy.ts";
import { RegionIndex } from "./regions.ts";
import type { Locate } from "../../core/context.ts";
import type { IpCountryLookup } from "./types.ts";

/** What the geo feature offers the core and later features. */
export interface Geo {
  regions: RegionIndex;
  /**
   * Where a client is (the request context's `geo`): resolved on first read, so a request that
   * never asks pays for no lookup.
   */
  locate: Locate;
  /** The IP database's state (`off` without one). */
  ipDatabase(): IpDatabaseState;
}

declare module "../../core/feature.ts" {
  interface FeatureApis {
    geo: Geo;
  }
  interface FeatureInputs {
    /** IP → country lookups; without one, location falls through to the default. */
    ipdb?: IpCountryLookup & { state?: IpDatabaseState };
  }
}

/** Degraded while the IP database loads behind a listening node. */
function warmingCheck(ipDatabase: () => IpDatabaseState): ConditionCheck {
  return () =>
    ipDatabase() === "loading"
      ? {
        level: "degraded",
        reason: "warming: the IP database is loading (client locations come from headers " +
          "or the default location until it is ready)",
      }
      : null;
}

/** Degraded when the IP database could not be loaded. */
function ipDatabaseCheck(ipDatabase: () => IpDatabaseState): ConditionCheck {
  return () =>
    ipDatabase() === "failed"
      ? {
        level: "degraded",
        reason: "the IP database failed to load: client locations come from headers or the " +
          "default location",
      }
      : null;
}

/** The feature's registration. */
export const geoFeature: Feature<"geo", typeof GEO_FIELDS> = {
  name: "geo",
  config: GEO_CONFIG,
  create(svc, cfg) {
    const regions = new RegionIndex(svc.config.regions, defaultRegionOf(svc.config));
    const ipdb = svc.inputs.ipdb;
    // A lookup without a state of its own (a test's table) is ready from the start.
    const ipDatabase = (): IpDatabaseState => ipdb === undefined ? "off" : ipdb.state ?? "ready";
    const options = { regions, ipdb, defaultLocation: cfg.geo.defaultLocation };
    return {
      api: { regions, locate: (clues) => new LazyClientGeo(clues, options), ipDatabase },
      // Slow extras come up after the node listens: it answers meanwhile, and health says so.
      conditions: {
        [WARMING_CONDITION]: warmingCheck(ipDatabase),
        ip_database: ipDatabaseCheck(ipDatabase),
      },
    };
  },
};

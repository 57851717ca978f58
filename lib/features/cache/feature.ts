/** The cache feature: the SWR edge cache (memory and KV tiers, purges, hit-for-pass). */

import type { Feature } from "../../core/feature.ts";
import { CACHE_CONFIG, type CACHE_FIELDS } from "../../cache/config.ts";

/** The feature's registration. */
export const cacheFeature: Feature<"cache", typeof CACHE_FIELDS> = {
  name: "cache",
  config: CACHE_CONFIG,
};

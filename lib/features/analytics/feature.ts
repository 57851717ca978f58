/** The analytics feature: analytics: events at the edge, summaries to the collector, automatic tracking. */

import type { Feature } from "../../core/feature.ts";
import { ANALYTICS_CONFIG, type ANALYTICS_FIELDS } from "./config.ts";

/** The feature's registration. */
export const analyticsFeature: Feature<"analytics", typeof ANALYTICS_FIELDS> = {
  name: "analytics",
  config: ANALYTICS_CONFIG,
};

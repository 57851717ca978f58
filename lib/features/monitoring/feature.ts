/** The monitoring feature: metrics, health, snapshots, alerts and the operator endpoints. */

import type { Feature } from "../../core/feature.ts";
import { MONITORING_CONFIG, type MONITORING_FIELDS } from "./config.ts";

/** The feature's registration. */
export const monitoringFeature: Feature<"monitoring", typeof MONITORING_FIELDS> = {
  name: "monitoring",
  config: MONITORING_CONFIG,
};

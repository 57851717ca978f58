/** The geo feature: where clients are (headers, the IP database) and which region is nearest. */

import type { Feature } from "../../core/feature.ts";
import { GEO_CONFIG, type GEO_FIELDS } from "./config.ts";

/** The feature's registration. */
export const geoFeature: Feature<"geo", typeof GEO_FIELDS> = {
  name: "geo",
  config: GEO_CONFIG,
};

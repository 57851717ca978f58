/** The ab feature: experiments: A/B tests at the edge (assignment, cookie, origin header). */

import type { Feature } from "../../core/feature.ts";
import { AB_CONFIG, type AB_FIELDS } from "./config.ts";

/** The feature's registration. */
export const abFeature: Feature<"ab", typeof AB_FIELDS> = {
  name: "ab",
  config: AB_CONFIG,
};

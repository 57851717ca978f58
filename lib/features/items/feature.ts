/** The items feature: items read from the edge, written to the central copy. */

import type { Feature } from "../../core/feature.ts";
import { ITEMS_CONFIG, type ITEMS_FIELDS } from "./config.ts";

/** The feature's registration. */
export const itemsFeature: Feature<"items", typeof ITEMS_FIELDS> = {
  name: "items",
  config: ITEMS_CONFIG,
};

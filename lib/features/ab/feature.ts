/** The ab feature: A/B experiments at the edge (assignment, cookie, the header the origin sees). */

import type { Feature } from "../../core/feature.ts";
import { AB_CONFIG, type AB_FIELDS } from "./config.ts";
import { abTesting, experimentHeaders } from "./middleware.ts";

/** What the ab feature offers later features. */
export interface Ab {
  /** The request headers by which the experiments at a path tell the origin its variant. */
  headersAt(path: string): readonly string[];
}

declare module "../../core/feature.ts" {
  interface FeatureApis {
    ab: Ab;
  }
}

/** The feature's registration. */
export const abFeature: Feature<"ab", typeof AB_FIELDS> = {
  name: "ab",
  config: AB_CONFIG,
  create(_svc, cfg) {
    return {
      api: { headersAt: experimentHeaders(cfg.experiments) },
      // Experiments pick their own paths among those no route of the edge answered.
      stages: [{ phase: "variant", handler: abTesting(cfg.experiments) }],
    };
  },
};

/** The authz feature: authorization of protected routes (JWT, WASM policy, rate limits). */

import type { Feature } from "../../core/feature.ts";
import { AUTHZ_CONFIG, type AUTHZ_FIELDS } from "./config.ts";

/** The feature's registration. */
export const authzFeature: Feature<"authz", typeof AUTHZ_FIELDS> = {
  name: "authz",
  config: AUTHZ_CONFIG,
};

/** The proxy feature: forwarding to the nearest healthy origin. */

import type { Feature } from "../../core/feature.ts";
import { PROXY_CONFIG, type PROXY_FIELDS } from "./config.ts";

/** The feature's registration. */
export const proxyFeature: Feature<"proxy", typeof PROXY_FIELDS> = {
  name: "proxy",
  config: PROXY_CONFIG,
};

/** The docs feature: the OpenAPI document and Swagger UI under /_edge. */

import type { Feature } from "../../core/feature.ts";
import { DOCS_CONFIG, type DOCS_FIELDS } from "./config.ts";

/** The feature's registration. */
export const docsFeature: Feature<"docs", typeof DOCS_FIELDS> = {
  name: "docs",
  config: DOCS_CONFIG,
};

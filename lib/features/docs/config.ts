/** The `docs` section of the edge configuration: the OpenAPI document and Swagger UI. */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";

/** API docs settings. */
export const DocsConfigSchema = z.object({
  /**
   * Serve `GET /_edge/openapi.json` and Swagger UI at `GET /_edge/docs` (its script and
   * stylesheet come from this node, taken from the pinned `swagger-ui-dist` package).
   */
  enabled: z.boolean().default(true),
}).strict().prefault({});

/** The validated `docs` section. */
export type DocsConfig = z.infer<typeof DocsConfigSchema>;

/** The fields this feature owns. */
export const DOCS_FIELDS = {
  /** The OpenAPI document and Swagger UI. */
  docs: DocsConfigSchema,
};

/** How the loader reads them (no environment variables). */
export const DOCS_CONFIG: FeatureConfig<typeof DOCS_FIELDS> = { fields: DOCS_FIELDS };

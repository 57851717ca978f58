/** The `docs` section of the edge configuration: the OpenAPI document and Swagger UI. */

import { z } from "zod";

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

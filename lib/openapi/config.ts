/** The `docs` section of the edge configuration: the OpenAPI document and Swagger UI. */

import { z } from "zod";

/** API docs settings. */
export const DocsConfigSchema = z.object({
  /** Serve `GET /_edge/openapi.json` and Swagger UI at `GET /_edge/docs`. */
  enabled: z.boolean().default(true),
  /**
   * Where the browser loads Swagger UI from: `<swaggerUiBaseUrl>/swagger-ui-dist@<version>/`
   * `swagger-ui-bundle.js` and `swagger-ui.css`. A public CDN by default; point it at a mirror
   * with the same layout where browsers cannot reach the CDN.
   */
  swaggerUiBaseUrl: z.url({ protocol: /^https?$/ }).max(2048)
    .default("https://cdn.jsdelivr.net/npm")
    .transform((url) => url.replace(/\/+$/, "")),
  /** The pinned `swagger-ui-dist` version. */
  swaggerUiVersion: z.string().regex(/^\d{1,4}\.\d{1,4}\.\d{1,4}$/, "Must be x.y.z")
    .default("5.35.0"),
}).strict().prefault({});

/** The validated `docs` section. */
export type DocsConfig = z.infer<typeof DocsConfigSchema>;

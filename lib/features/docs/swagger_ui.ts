/**
 * Swagger UI's script and stylesheet, taken from the pinned `swagger-ui-dist` npm package and
 * served by the node itself, so `/_edge/docs` works where browsers cannot reach a CDN. They are
 * text imports (part of the module graph, so a deployment carries them), loaded on first use.
 */

import swaggerPackage from "swagger-ui-dist/package.json" with { type: "json" };
import { sha256Hex } from "../../platform/hash.ts";

/** The pinned `swagger-ui-dist` version (from its package.json). */
export const SWAGGER_UI_VERSION: string = swaggerPackage.version;

/** One asset: its text, content type and a strong ETag. */
export interface DocsAsset {
  body: string;
  type: string;
  etag: string;
}

/** Swagger UI's two files. */
export interface SwaggerUiAssets {
  script: DocsAsset;
  style: DocsAsset;
}

async function asset(body: string, type: string): Promise<DocsAsset> {
  return { body, type, etag: `"${await sha256Hex(body, 12)}"` };
}

/** Drops a trailing source-map comment: the map is not served, so devtools would ask for it. */
function withoutSourceMap(text: string): string {
  return text.replace(/\n\/[/*]# sourceMappingURL=[^\n]*\s*$/, "\n");
}

let loading: Promise<SwaggerUiAssets> | null = null;

/** Loads the assets once per process (again only if loading failed). */
export function swaggerUiAssets(): Promise<SwaggerUiAssets> {
  loading ??= (async () => {
    const [js, css] = await Promise.all([
      import("swagger-ui-dist/swagger-ui-bundle.js", { with: { type: "text" } }),
      import("swagger-ui-dist/swagger-ui.css", { with: { type: "text" } }),
    ]);
    return {
      script: await asset(withoutSourceMap(js.default), "text/javascript; charset=utf-8"),
      style: await asset(withoutSourceMap(css.default), "text/css; charset=utf-8"),
    };
  })().catch((error) => {
    loading = null;
    throw error;
  });
  return loading;
}

/**
 * `GET /_edge/openapi.json` (the API document, built on the first request and then served as
 * the same text with an `ETag`) and Swagger UI at `GET /_edge/docs`, whose script and stylesheet
 * the browser loads from `docs.swaggerUiBaseUrl` (a public CDN by default). Neither is built,
 * nor its modules loaded, before it is first asked for: start-up does not pay for them.
 */

import type { Hono } from "hono";
import type { AppEnv } from "../lib/app_env.ts";
import type { DocsConfig } from "../lib/openapi/config.ts";
import { sha256Hex } from "../lib/hash.ts";

/** What the docs routes need. */
export interface DocsRoutesOptions {
  config: DocsConfig;
  /** Builds the document; called on the first request (again only if it failed). */
  document: () => Promise<unknown>;
}

const DOCUMENT_URL = "/_edge/openapi.json";

/** The Swagger UI page (no user input reaches it: the inline script comes from the config). */
export async function docsPage(config: DocsConfig): Promise<string> {
  const { SwaggerUI } = await import("@hono/swagger-ui");
  const ui = SwaggerUI({
    url: DOCUMENT_URL,
    baseUrl: config.swaggerUiBaseUrl,
    version: config.swaggerUiVersion,
    // The public validator badge would send the document's URL to a third party.
    validatorUrl: "none",
  });
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>Outpost edge API</title>
  </head>
  <body>${ui}</body>
</html>
`;
}

/** The page's policy: its own origin, plus the asset host for the script and styles. */
function pagePolicy(config: DocsConfig): string {
  const assets = new URL(config.swaggerUiBaseUrl).origin;
  return [
    "default-src 'self'",
    // @hono/swagger-ui starts Swagger UI from an inline script; the page holds nothing else.
    `script-src 'self' 'unsafe-inline' ${assets}`,
    `style-src 'self' 'unsafe-inline' ${assets}`,
    `img-src 'self' data: ${assets}`,
    `font-src 'self' data: ${assets}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

async function etagOf(text: string): Promise<string> {
  return `"${await sha256Hex(text, 12)}"`;
}

/** Adds `/openapi.json` and `/docs` to the `/_edge` app. */
export function docsRoutes(app: Hono<AppEnv>, options: DocsRoutesOptions): void {
  let built: Promise<{ text: string; etag: string }> | null = null;
  function documentText() {
    built ??= options.document().then(async (doc) => {
      const text = JSON.stringify(doc);
      return { text, etag: await etagOf(text) };
    }).catch((error) => {
      built = null; // the next request tries again; this one answers 500 (logged)
      throw error;
    });
    return built;
  }

  app.get("/openapi.json", async (c) => {
    const { text, etag } = await documentText();
    const matches = c.req.header("if-none-match")?.split(",").some((t) => t.trim() === etag);
    const res = matches ? new Response(null, { status: 304 }) : new Response(text);
    if (!matches) res.headers.set("content-type", "application/json; charset=utf-8");
    res.headers.set("etag", etag);
    res.headers.set("cache-control", "no-cache");
    res.headers.set("access-control-allow-origin", "*");
    return res;
  });

  let page: Promise<string> | null = null;
  const policy = pagePolicy(options.config);
  app.get("/docs", async () => {
    page ??= docsPage(options.config).catch((error) => {
      page = null; // the next request tries again; this one answers 500 (logged)
      throw error;
    });
    const res = new Response(await page);
    res.headers.set("content-type", "text/html; charset=utf-8");
    res.headers.set("cache-control", "no-cache");
    res.headers.set("content-security-policy", policy);
    res.headers.set("x-content-type-options", "nosniff");
    res.headers.set("x-frame-options", "DENY");
    return res;
  });
}

/**
 * `GET /_edge/openapi.json` (the API document, built on the first request and then served as
 * the same text with an `ETag`) and Swagger UI at `GET /_edge/docs`. Every file the page loads
 * comes from this node: Swagger UI from the pinned `swagger-ui-dist` package, and a small start
 * script, so the page works offline and its policy allows no other host.
 */

import type { Hono } from "hono";
import type { AppEnv } from "../../core/request.ts";
import { sha256Hex } from "../../platform/hash.ts";
import { describedRoutes, json, type RouteDoc, text } from "../../platform/http/route_doc.ts";
import type { DocsConfig } from "./config.ts";
import { type DocsAsset, SWAGGER_UI_VERSION, swaggerUiAssets } from "./swagger_ui.ts";

/** What the docs routes need. */
export interface DocsRoutesOptions {
  config: DocsConfig;
  /** Builds the document; called on the first request (again only if it failed). */
  document: () => Promise<unknown>;
}

const DOCUMENT_URL = "/_edge/openapi.json";

/** Starts Swagger UI; a file rather than an inline script, so the policy needs no exception. */
const INIT_SCRIPT = `"use strict";
window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(DOCUMENT_URL)},
  dom_id: "#swagger-ui",
  deepLinking: true,
  // The public validator badge would send the document's URL to a third party.
  validatorUrl: null,
});
`;

/** The Swagger UI page; `initHash` versions the start script's URL. */
function docsPage(initHash: string): string {
  const v = encodeURIComponent(SWAGGER_UI_VERSION);
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>Outpost edge API</title>
    <link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='6' fill='%232563eb'/%3E%3C/svg%3E" />
    <link rel="stylesheet" href="/_edge/docs/swagger-ui.css?v=${v}" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <noscript>Swagger UI needs JavaScript; the document itself is at <a href="${DOCUMENT_URL}">${DOCUMENT_URL}</a>.</noscript>
    <script src="/_edge/docs/swagger-ui-bundle.js?v=${v}"></script>
    <script src="/_edge/docs/init.js?v=${initHash}"></script>
  </body>
</html>
`;
}

/** The page's policy: this origin only (Swagger UI sets inline styles on its elements). */
const PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

async function etagOf(text: string): Promise<string> {
  return `"${await sha256Hex(text, 12)}"`;
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  return header?.split(",").some((t) => t.trim() === etag || t.trim() === "*") ?? false;
}

/**
 * A static asset: immutable for a year when asked for by its current version (`?v=`), else
 * revalidated by ETag, so an old page never gets a new file cached under its old name.
 */
function assetResponse(asset: DocsAsset, req: Request, version: string): Response {
  const current = new URL(req.url).searchParams.get("v") === version;
  const res = matchesEtag(req.headers.get("if-none-match") ?? undefined, asset.etag)
    ? new Response(null, { status: 304 })
    : new Response(asset.body);
  if (res.status === 200) res.headers.set("content-type", asset.type);
  res.headers.set("etag", asset.etag);
  res.headers.set(
    "cache-control",
    current ? "public, max-age=31536000, immutable" : "no-cache",
  );
  res.headers.set("x-content-type-options", "nosniff");
  return res;
}

const DOCS: Record<"document" | "page" | "init" | "script" | "styles", RouteDoc> = {
  document: {
    operationId: "getOpenApiDocument",
    tags: ["Docs"],
    summary: "This document (OpenAPI 3.1)",
    responses: {
      200: json("The document", {
        type: "object",
        required: ["openapi", "info", "paths"],
        properties: { openapi: { const: "3.1.0" } },
      }),
    },
  },
  page: {
    operationId: "getApiDocs",
    tags: ["Docs"],
    summary: "Swagger UI for this document (every asset served by this node)",
    responses: { 200: text("The page", "text/html; charset=utf-8") },
  },
  init: {
    operationId: "getApiDocsInit",
    tags: ["Docs"],
    summary: "The script that starts Swagger UI on this document (public)",
    responses: { 200: text("The script", "text/javascript; charset=utf-8") },
  },
  script: {
    operationId: "getApiDocsScript",
    tags: ["Docs"],
    summary: "Swagger UI's script, from the pinned swagger-ui-dist package (public)",
    description: "Immutable when asked for with the page's `?v=`; otherwise revalidated by ETag.",
    responses: { 200: text("The script", "text/javascript; charset=utf-8") },
  },
  styles: {
    operationId: "getApiDocsStyles",
    tags: ["Docs"],
    summary: "Swagger UI's stylesheet, from the pinned swagger-ui-dist package (public)",
    responses: { 200: text("The stylesheet", "text/css; charset=utf-8") },
  },
};

/** Adds `/openapi.json`, `/docs` and the page's assets to the `/_edge` app. */
export function docsRoutes(app: Hono<AppEnv>, options: DocsRoutesOptions): void {
  const api = describedRoutes(app);
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

  api.get("/openapi.json", DOCS.document, async (c) => {
    const { text, etag } = await documentText();
    const matches = matchesEtag(c.req.header("if-none-match"), etag);
    const res = matches ? new Response(null, { status: 304 }) : new Response(text);
    if (!matches) res.headers.set("content-type", "application/json; charset=utf-8");
    res.headers.set("etag", etag);
    res.headers.set("cache-control", "no-cache");
    res.headers.set("access-control-allow-origin", "*");
    return res;
  });

  const initHash = sha256Hex(INIT_SCRIPT, 8);
  const init = initHash.then(async (hash) => ({
    hash,
    asset: {
      body: INIT_SCRIPT,
      type: "text/javascript; charset=utf-8",
      etag: await etagOf(INIT_SCRIPT),
    },
  }));
  api.get("/docs", DOCS.page, async () => {
    const res = new Response(docsPage((await init).hash));
    res.headers.set("content-type", "text/html; charset=utf-8");
    res.headers.set("cache-control", "no-cache");
    res.headers.set("content-security-policy", PAGE_POLICY);
    res.headers.set("x-content-type-options", "nosniff");
    res.headers.set("x-frame-options", "DENY");
    return res;
  });
  api.get("/docs/init.js", DOCS.init, async (c) => {
    const { hash, asset } = await init;
    return assetResponse(asset, c.req.raw, hash);
  });
  api.get("/docs/swagger-ui-bundle.js", DOCS.script, async (c) => {
    return assetResponse((await swaggerUiAssets()).script, c.req.raw, SWAGGER_UI_VERSION);
  });
  api.get("/docs/swagger-ui.css", DOCS.styles, async (c) => {
    return assetResponse((await swaggerUiAssets()).style, c.req.raw, SWAGGER_UI_VERSION);
  });
}

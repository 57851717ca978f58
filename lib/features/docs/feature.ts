/**
 * The docs feature: the OpenAPI document (`/_edge/openapi.json`, generated from the routes the
 * node serves, each carrying its description and schemas, on the first request, never before) and Swagger UI (`/_edge/docs`).
 */

import { Hono } from "hono";
import type { Feature } from "../../core/feature.ts";
import type { AppEnv } from "../../core/request.ts";
import { DOCS_CONFIG, type DOCS_FIELDS } from "./config.ts";
import { docsRoutes } from "./routes.ts";

/** The feature's registration (last: it describes what the others serve). */
export const docsFeature: Feature<"docs", typeof DOCS_FIELDS> = {
  name: "docs",
  config: DOCS_CONFIG,
  create(svc, cfg) {
    if (!cfg.docs.enabled) return {};
    const { config } = svc;
    const guard = svc.use("authz");
    const edgeRoutes = new Hono<AppEnv>().basePath("/_edge");
    docsRoutes(edgeRoutes, {
      config: cfg.docs,
      document: async () =>
        (await import("./openapi/document.ts")).buildApiDocument({
          config,
          routers: svc.routers(),
          protects: guard ? (method, path) => guard.protects(method, path) : null,
        }),
    });
    return { edgeRoutes };
  },
};

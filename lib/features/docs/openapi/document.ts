/**
 * The OpenAPI 3.1 document of the edge's own HTTP API, built from the zod schemas the routes
 * validate with, under the running config (limits, roles, protected routes). Route descriptions
 * are registered on an `OpenAPIHono` used only for the document: the live routes stay plain Hono
 * handlers, so nothing on the request path changes. Loaded lazily (see `lib/features/docs/routes.ts`).
 */

import { createRoute, OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import meta from "../../../../deno.json" with { type: "json" };
import { SchemaBook } from "./json_schema.ts";
import type { DocContext, Operation } from "./operation.ts";
import { analyticsOperations } from "./paths_analytics.ts";
import { dataOperations } from "./paths_data.ts";
import { edgeOperations } from "./paths_edge.ts";
import { mergeProblems, problems, ProblemSchema } from "./problem.ts";

/** What {@linkcode buildApiDocument} needs besides the schemas. */
export interface ApiDocumentOptions extends Omit<DocContext, "book"> {
  /** Whether authorization applies to a request with this method and path (null: authz off). */
  protects: ((method: string, path: string) => boolean) | null;
}

const TAGS = [
  { name: "Node", description: "This node: location and health" },
  { name: "Monitoring", description: "Prometheus metrics, global statistics, the dashboard" },
  { name: "Cache", description: "The SWR edge cache: purge and figures" },
  { name: "Sync", description: "Anti-entropy between nodes (CRDT state)" },
  { name: "Items", description: "Read at the edge, written to the center" },
  { name: "CRDT", description: "Counters, sets and registers replicated between nodes" },
  { name: "Analytics", description: "Events recorded at the edge" },
  { name: "Collector", description: "The central collector of analytics summaries" },
  { name: "Docs", description: "This document and its viewer" },
];

const SECURITY_SCHEMES = {
  bearerJwt: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A user's JWT on routes matched by `authz.protect`; allowed answers carry " +
      "`RateLimit-Policy` and `RateLimit` headers.",
  },
  adminToken: {
    type: "http",
    scheme: "bearer",
    description: "`ADMIN_TOKEN`, as a bearer header only (never in the URL)",
  },
  syncToken: { type: "http", scheme: "bearer", description: "`SYNC_TOKEN`, shared by peers" },
  collectorToken: {
    type: "http",
    scheme: "bearer",
    description: "`CENTRAL_TOKEN`, shared by edges and the collector",
  },
} as const;

const AUTHZ_PROBLEMS = problems({
  401: "`unauthenticated`: no bearer token; `invalid_token`",
  403: "`permission_denied`, `geo_restricted`",
  429: "`rate_limited`",
  503: "`authz_unavailable`: the policy module or rate store failed",
});

/** Adds the JWT requirement and authorization's problems where `authz.protect` matches. */
function authorized(op: Operation, options: ApiDocumentOptions): Operation {
  if (options.protects === null || op.path.startsWith("/_edge/")) return op;
  const sample = op.path.replace(/\{[^}]+\}/g, "x");
  if (!options.protects(op.method.toUpperCase(), sample)) return op;
  const jwt = (op.security ?? [{}]).map((alternative) => ({ ...alternative, bearerJwt: [] }));
  const { default: fallback, ...responses } = op.responses;
  return {
    ...op,
    security: options.config.authz.allowAnonymous ? [...jwt, {}] : jwt,
    description: [op.description, "Protected by `authz.protect`."].filter(Boolean).join(" "),
    responses: { ...mergeProblems(responses, AUTHZ_PROBLEMS), default: fallback },
  };
}

function description(options: ApiDocumentOptions): string {
  const { config } = options;
  return [
    `The HTTP API of this Outpost edge node (region \`${config.region}\`, role ` +
    `\`${config.role}\`, ${config.mode}), as configured: limits and routes are this node's.`,
    "Every answer carries `X-Served-By` (the region), `X-Request-Id` (the client's valid one, " +
    "else a new one) and `Server-Timing`. Errors the edge makes itself are " +
    "`application/problem+json` (RFC 9457, schema `Problem`) with a machine-readable `code`.",
    "Not described here: every other path, which the SWR cache and the nearest healthy origin " +
    "answer (see docs/http-api.md).",
  ].join("\n\n");
}

/** Builds the document (an OpenAPI 3.1 object). */
export function buildApiDocument(options: ApiDocumentOptions): Record<string, unknown> {
  const book = new SchemaBook();
  book.ref("Problem", ProblemSchema);
  const ctx: DocContext = { ...options, book };
  const operations = [
    ...edgeOperations(ctx),
    ...analyticsOperations(ctx),
    ...dataOperations(ctx),
  ].map((op) => authorized(op, options));

  const app = new OpenAPIHono();
  const registry = app.openAPIRegistry;
  for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) {
    registry.registerComponent("securitySchemes", name, scheme);
  }
  for (const [name, schema] of book.components) registry.registerComponent("schemas", name, schema);
  for (const { requestBody, ...op } of operations) {
    // The schemas are JSON Schema already (see json_schema.ts); the registry passes them through.
    const route = { ...op, ...(requestBody ? { request: { body: requestBody } } : {}) };
    registry.registerPath(createRoute(route as unknown as RouteConfig));
  }
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title: "Outpost edge API", version: meta.version, description: description(options) },
    servers: [{ url: "/", description: "This edge node" }],
    tags: TAGS,
  }) as unknown as Record<string, unknown>;
}

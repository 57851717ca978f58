/**
 * The OpenAPI 3.1 document of the edge's own HTTP API, generated from the live app: each route
 * the running config mounts carries its description and zod schemas where it is defined
 * (`lib/platform/http/route_doc.ts`); this walks the routers' route tables, converts the schemas
 * and lets hono-openapi assemble the paths (path templates, a guard's description merged into
 * the operations under its path). A route without a description is not in the document (a test
 * walks the routes and fails on one). Loaded lazily (see `lib/features/docs/routes.ts`).
 */

import { Hono } from "hono";
import type { z } from "zod";
import type { AppEnv } from "../../../core/request.ts";
import { findTargetHandler } from "hono/utils/handler";
import { describeRoute, generateSpecs } from "hono-openapi";
import meta from "../../../../deno.json" with { type: "json" };
import type { EdgeConfig } from "../../../core/config.ts";
import {
  type JsonSchema,
  mergeProblems,
  type MiddlewareDoc,
  NamedSchema,
  type ParameterDoc,
  problems,
  type ResponseDoc,
  type RouteDoc,
  routeDocOf,
  type SchemaSlot,
} from "../../../platform/http/route_doc.ts";
import { SchemaBook } from "./json_schema.ts";
import { ProblemSchema } from "./problem.ts";

/** What {@linkcode buildApiDocument} reads. */
export interface ApiDocumentOptions {
  config: EdgeConfig;
  /** The live routers, in the order requests reach them (`Edge.routers`). */
  routers: readonly Hono<AppEnv>[];
  /** Whether authorization applies to a request with this method and path (null: authz off). */
  protects: ((method: string, path: string) => boolean) | null;
}

/** One entry of a router's route table, and what its handler says about itself. */
export interface DescribedRoute {
  method: string;
  path: string;
  doc: RouteDoc | MiddlewareDoc | null;
}

type Obj = Record<string, unknown>;

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
  503: "`authz_unavailable`: the policy module or rate store failed; `authz_not_configured`",
});

/** Every route of `routers` with the description its handler carries (null: none). */
export function routeTable(routers: readonly Hono<AppEnv>[]): Promise<DescribedRoute[]> {
  return Promise.all(
    routers.flatMap((app) => app.routes).map(async (route) => ({
      method: route.method,
      path: route.path,
      doc: await routeDocOf(findTargetHandler(route.handler)),
    })),
  );
}

function isOperation(doc: RouteDoc | MiddlewareDoc): doc is RouteDoc {
  return "operationId" in doc;
}

/** Turns the zod schemas of a description into JSON Schema (named ones into components). */
class Converter {
  readonly book = new SchemaBook();

  constructor() {
    this.book.ref("Problem", ProblemSchema);
  }

  schema(slot: SchemaSlot): JsonSchema {
    if (slot instanceof NamedSchema) return this.book.ref(slot.name, slot.schema);
    if ("_zod" in slot) return this.book.inline(slot as z.ZodType);
    return slot as JsonSchema;
  }

  content(content: Record<string, SchemaSlot>): Obj {
    const out: Obj = {};
    for (const [type, slot] of Object.entries(content)) out[type] = { schema: this.schema(slot) };
    return out;
  }

  responses(responses: Record<string, ResponseDoc>): Obj {
    const out: Obj = {};
    for (const [status, { content, ...rest }] of Object.entries(responses)) {
      out[status] = content ? { ...rest, content: this.content(content) } : rest;
    }
    return out;
  }

  parameter(p: ParameterDoc): Obj {
    return {
      ...p,
      required: p.in === "path" || (p.required ?? false),
      schema: this.schema(p.schema),
    };
  }

  operation(doc: RouteDoc): Obj {
    const { params, query, describe, parameters, requestBody, responses, ...rest } = doc;
    const all = [
      ...(params ? this.book.parameters("path", params, describe) : []),
      ...(query ? this.book.parameters("query", query, describe) : []),
      ...(parameters ?? []).map((p) => this.parameter(p)),
    ];
    return {
      ...rest,
      ...(all.length > 0 ? { parameters: all } : {}),
      ...(requestBody
        ? { requestBody: { ...requestBody, content: this.content(requestBody.content) } }
        : {}),
      responses: this.responses(responses),
    };
  }

  middleware(doc: MiddlewareDoc): Obj {
    return {
      ...(doc.security ? { security: doc.security } : {}),
      ...(doc.responses ? { responses: this.responses(doc.responses) } : {}),
    };
  }
}

/** Adds the JWT requirement and authorization's problems where `authz.protect` matches. */
function authorize(
  at: { path: string; method: string; problems: Obj },
  op: Obj,
  options: ApiDocumentOptions,
): void {
  const { path, method } = at;
  if (options.protects === null || path.startsWith("/_edge/")) return;
  const sample = path.replace(/\{[^}]+\}/g, "x");
  if (!options.protects(method.toUpperCase(), sample)) return;
  const security = (op.security ?? [{}]) as Array<Record<string, string[]>>;
  const jwt = security.map((alternative) => ({ ...alternative, bearerJwt: [] }));
  op.security = options.config.authz.allowAnonymous ? [...jwt, {}] : jwt;
  op.description = [op.description, "Protected by `authz.protect`."].filter(Boolean).join(" ");
  const { default: fallback, ...responses } = op.responses as Record<string, ResponseDoc>;
  op.responses = {
    ...mergeProblems(responses, at.problems as Record<string, ResponseDoc>),
    ...(fallback ? { default: fallback } : {}),
  };
}

function description(config: EdgeConfig): string {
  return [
    `The HTTP API of this Outpost edge node (region \`${config.region}\`, role ` +
    `\`${config.role}\`, ${config.mode}), as configured: limits and routes are this node's.`,
    "Every answer carries `X-Served-By` (the region), `X-Request-Id` (the client's valid one, " +
    "else a new one) and `Server-Timing`. Errors the edge makes itself are " +
    "`application/problem+json` (RFC 9457, schema `Problem`) with a machine-readable `code`.",
    "Not described here: every other path, which the SWR cache and the nearest healthy origin " +
    "answer (see docs/http-api.md), and users' edge functions (docs/functions.md).",
  ].join("\n\n");
}

/** Builds the document (an OpenAPI 3.1 object) from the routes `options.routers` serve. */
export async function buildApiDocument(options: ApiDocumentOptions): Promise<Obj> {
  const convert = new Converter();
  // The route table as hono-openapi reads it: each live route's method and path, described.
  const table = new Hono();
  const operations = new Set<string>();
  for (const { method, path, doc } of await routeTable(options.routers)) {
    if (doc === null) continue;
    if (method === "ALL") {
      if (isOperation(doc)) throw new TypeError(`ALL ${path}: an operation needs a method`);
      table.all(path, describeRoute(convert.middleware(doc)));
    } else {
      if (!isOperation(doc)) throw new TypeError(`${method} ${path}: a guard on one route`);
      // The router answers the first; a second description would describe a route never reached.
      if (operations.has(`${method} ${path}`)) throw new TypeError(`${method} ${path} twice`);
      operations.add(`${method} ${path}`);
      table.on(method, path, describeRoute(convert.operation(doc)));
    }
  }
  const schemas = Object.fromEntries(convert.book.components);
  const doc = await generateSpecs(table, {
    documentation: {
      openapi: "3.1.0",
      info: {
        title: "Outpost edge API",
        version: meta.version,
        description: description(options.config),
      },
      servers: [{ url: "/", description: "This edge node" }],
      tags: TAGS,
      components: { securitySchemes: SECURITY_SCHEMES, schemas } as never,
    },
    // Every operation lists its own answers; the library's defaults would add others.
    defaultValidationErrorResponse: false,
    excludeStaticFile: false,
    excludeMethods: [],
  }) as unknown as Obj;
  const authz = convert.responses(AUTHZ_PROBLEMS);
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Obj>>)) {
    for (const [method, op] of Object.entries(item)) {
      authorize({ path, method, problems: authz }, op, options);
    }
  }
  return doc;
}

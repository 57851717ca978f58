/**
 * What a route says about itself for the API document: its operation (summary, parameters, body,
 * answers, security) with the very zod schemas it validates with, attached to its handler where
 * the route is defined. Nothing here runs on a request or converts a schema: the docs feature
 * reads these from the live app's routes when the document is first asked for
 * (`lib/features/docs/openapi/document.ts`), and a test fails on a route mounted without one.
 *
 * @example A route and its description
 * ```ts
 * const api = describedRoutes(app);
 * api.get("/counters/:name", {
 *   operationId: "getCounter",
 *   tags: ["CRDT"],
 *   summary: "Read a counter",
 *   params: z.object({ name: CrdtNameSchema }), // what the handler parses the path with
 *   responses: { 200: json("The counter", named("Counter", CounterSchema)), ...problems({ 400: "`validation_failed`" }) },
 * }, async (c) => { … });
 * ```
 * A description that names schemas the route itself does not need (its answers) is better a
 * function that imports them, so they are not built at start-up.
 */

import type { Env, Handler, Hono, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { PROBLEM_CONTENT_TYPE } from "./errors.ts";

/** A JSON Schema object, as written in the document. */
export type JsonSchema = { [keyword: string]: unknown };

/** A zod schema the document shows once, as `components.schemas[name]`, and refers to. */
export class NamedSchema {
  readonly name: string;
  readonly schema: z.ZodType;
  constructor(name: string, schema: z.ZodType) {
    this.name = name;
    this.schema = schema;
  }
}

/** `schema` as the component `name` (one name, one schema: the document refuses two). */
export function named(name: string, schema: z.ZodType): NamedSchema {
  return new NamedSchema(name, schema);
}

/** Where a schema goes: a named zod schema, an inline zod schema, or JSON Schema as it is. */
export type SchemaSlot = NamedSchema | z.ZodType | JsonSchema;

/** A response header of the document. */
export interface HeaderDoc {
  description: string;
  schema: JsonSchema;
}

/** One answer of an operation; `content` by media type. */
export interface ResponseDoc {
  description: string;
  headers?: Record<string, HeaderDoc>;
  content?: Record<string, SchemaSlot>;
}

/** A parameter written out (headers; path and query ones usually come from `params`/`query`). */
export interface ParameterDoc {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  description?: string;
  schema: SchemaSlot;
}

/** Alternatives, each a set of security schemes that must all be satisfied. */
export type SecurityDoc = Array<Record<string, string[]>>;

/** An operation, as the route that serves it describes it. */
export interface RouteDoc {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  security?: SecurityDoc;
  /** The path parameters, from the object schema the route parses them with. */
  params?: z.ZodObject;
  /** The query parameters, from the object schema the route parses them with. */
  query?: z.ZodObject;
  /** Descriptions of `params` and `query` members, by name. */
  describe?: Record<string, string>;
  /** Further parameters (headers). */
  parameters?: ParameterDoc[];
  requestBody?: { required?: boolean; description?: string; content: Record<string, SchemaSlot> };
  responses: Record<string, ResponseDoc>;
}

/** What a middleware adds to every operation under its path (a guard: security, its problems). */
export interface MiddlewareDoc {
  security?: SecurityDoc;
  responses?: Record<string, ResponseDoc>;
}

/**
 * A description, or a function that makes it when the document is built, so that neither the
 * description nor the schemas it names cost anything at start-up (it may load them with a
 * dynamic `import()`).
 */
export type DocSource<D> = D | (() => D | Promise<D>);

const ROUTE_DOC = Symbol("routeDoc");

type Documented = { [ROUTE_DOC]?: DocSource<RouteDoc | MiddlewareDoc> };

/** Attaches `doc` to `handler` (once: a handler serves one operation) and returns the handler. */
export function described<F extends (...args: never[]) => unknown>(
  doc: DocSource<RouteDoc>,
  handler: F,
): F {
  return attach(handler, doc);
}

function attach<F extends (...args: never[]) => unknown>(
  handler: F,
  doc: DocSource<RouteDoc | MiddlewareDoc>,
): F {
  if (ROUTE_DOC in handler) {
    throw new TypeError(`Handler ${handler.name || "(anonymous)"} is described twice`);
  }
  Object.defineProperty(handler, ROUTE_DOC, { value: doc });
  return handler;
}

/** The description attached to a handler or middleware (made now if it is a function), or null. */
export async function routeDocOf(handler: unknown): Promise<RouteDoc | MiddlewareDoc | null> {
  if (typeof handler !== "function") return null;
  const doc = (handler as Documented)[ROUTE_DOC];
  if (doc === undefined) return null;
  return typeof doc === "function" ? await doc() : doc;
}

/** Routes of `app` registered with their descriptions (`app.get(path, handler)` plus a doc). */
export interface DescribedRoutes<E extends Env> {
  get<P extends string>(path: P, doc: DocSource<RouteDoc>, handler: Handler<E, P>): void;
  post<P extends string>(path: P, doc: DocSource<RouteDoc>, handler: Handler<E, P>): void;
  put<P extends string>(path: P, doc: DocSource<RouteDoc>, handler: Handler<E, P>): void;
  delete<P extends string>(path: P, doc: DocSource<RouteDoc>, handler: Handler<E, P>): void;
  /** A middleware whose description applies to every operation under `path` (`/x/*`). */
  use<P extends string>(
    path: P,
    doc: DocSource<MiddlewareDoc>,
    middleware: MiddlewareHandler<E, P>,
  ): void;
}

/**
 * Registers routes on `app` as Hono does, each handler carrying its description. The description
 * is a property of the handler, not a middleware: a route costs the same per request with or
 * without it, and a synchronous handler still answers without a promise.
 */
export function describedRoutes<E extends Env>(app: Hono<E>): DescribedRoutes<E> {
  const on = (method: string) => (path: string, doc: DocSource<RouteDoc>, handler: Handler<E>) => {
    app.on(method, path, attach(handler, doc));
  };
  return {
    get: on("GET"),
    post: on("POST"),
    put: on("PUT"),
    delete: on("DELETE"),
    use(path, doc, middleware) {
      app.use(path, attach(middleware as MiddlewareHandler<E>, doc));
    },
  } as DescribedRoutes<E>;
}

// The pieces descriptions are made of.

/** A JSON answer (with `headers`, its response headers too). */
export function json(
  description: string,
  schema: SchemaSlot,
  headers?: Record<string, HeaderDoc>,
): ResponseDoc {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { "application/json": schema },
  };
}

/** A text answer of media type `type`. */
export function text(description: string, type: string): ResponseDoc {
  return { description, content: { [type]: { type: "string" } } };
}

/** A JSON request body, required unless `options.required` is false. */
export function jsonBody(
  schema: SchemaSlot,
  description?: string,
  options: { required?: boolean } = {},
): NonNullable<RouteDoc["requestBody"]> {
  return {
    required: options.required ?? true,
    ...(description ? { description } : {}),
    content: { "application/json": schema },
  };
}

/** The schema of every problem body (`components.schemas.Problem`, added by the document). */
export const PROBLEM_REF: JsonSchema = { $ref: "#/components/schemas/Problem" };

const PROBLEM_HEADERS: Record<number, Record<string, HeaderDoc>> = {
  401: {
    "WWW-Authenticate": { description: "The scheme and realm to use", schema: { type: "string" } },
  },
  405: { Allow: { description: "The methods allowed", schema: { type: "string" } } },
  429: {
    "Retry-After": {
      description: "Seconds until a retry may succeed",
      schema: { type: "integer" },
    },
  },
  503: {
    "Retry-After": {
      description: "Seconds until a retry may succeed",
      schema: { type: "integer" },
    },
  },
};

/** A problem+json answer whose description says which `code`s it carries here. */
export function problem(status: number, description: string): ResponseDoc {
  const headers = PROBLEM_HEADERS[status];
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { [PROBLEM_CONTENT_TYPE]: PROBLEM_REF },
  };
}

/** Problem answers by status (`{ 400: "`validation_failed`: …" }`). */
export function problems(byStatus: Record<number, string>): Record<string, ResponseDoc> {
  const out: Record<string, ResponseDoc> = {};
  for (const [status, description] of Object.entries(byStatus)) {
    out[status] = problem(Number(status), description);
  }
  return out;
}

/** Two sets of answers in one; the descriptions of a status both have are joined. */
export function mergeProblems(
  a: Record<string, ResponseDoc>,
  b: Record<string, ResponseDoc>,
): Record<string, ResponseDoc> {
  const out = { ...a };
  for (const [status, response] of Object.entries(b)) {
    const mine = out[status];
    out[status] = mine
      ? { ...mine, description: `${mine.description}; ${response.description}` }
      : response;
  }
  return out;
}

/** The answer for statuses not listed: any other problem the edge makes (e.g. 500). */
export const DEFAULT_PROBLEM: ResponseDoc = problem(
  500,
  "Any other error the edge makes itself, e.g. `500 internal_error`",
);

/** Operator endpoints: the one admin guard (`lib/platform/guard.ts`), as a bearer header. */
export const OPERATOR_SECURITY: SecurityDoc = [{ adminToken: [] }];

/** What the admin guard answers, by status. */
export const OPERATOR_PROBLEMS: Record<number, string> = {
  401: "`admin_token_required`: no token given (when `ADMIN_TOKEN` is set)",
  403: "`admin_token_invalid`: wrong token",
  503: "`admin_not_configured`: production without `ADMIN_TOKEN`",
};

/** Bytes as people read them: `64 KiB`, `4 MiB`. */
export function bytes(n: number): string {
  if (n >= 1024 ** 2 && n % 1024 ** 2 === 0) return `${n / 1024 ** 2} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** The pieces each area's route descriptions are made of. */

import type { z } from "zod";
import type { EventLimits } from "../../analytics/event_schema.ts";
import type { EdgeConfig } from "../../../core/config.ts";
import type { JsonSchema, ParameterObject, SchemaBook } from "./json_schema.ts";
import type { ResponseObject } from "./problem.ts";

/** One operation of the document, in OpenAPI path syntax (`/items/{id}`). */
export interface Operation {
  method: "get" | "post" | "put" | "delete";
  path: string;
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  /** Alternatives, each a set of schemes that must all be satisfied. */
  security?: Array<Record<string, string[]>>;
  parameters?: ParameterObject[];
  requestBody?: {
    required: boolean;
    description?: string;
    content: Record<string, { schema: JsonSchema }>;
  };
  responses: Record<string, ResponseObject>;
}

/** What the descriptions are built from: the running node's config and schemas. */
export interface DocContext {
  book: SchemaBook;
  config: EdgeConfig;
  /** The schema item bodies are held to (`data.itemSchema` or the app's override). */
  itemSchema: z.ZodType;
  /** The event limits of this node's analytics ingest; null when `/events` is not served. */
  eventLimits: EventLimits | null;
  /** Whether this node serves the collector (`/_central/*`). */
  collector: boolean;
  /** Whether the cache and so `/_edge/purge` and `/_edge/cache` are on. */
  cache: boolean;
  now: () => number;
}

/** A JSON answer (with `headers` it documents response headers too). */
export function json(
  description: string,
  schema: JsonSchema,
  options: { headers?: ResponseObject["headers"] } = {},
): ResponseObject {
  const { headers } = options;
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { "application/json": { schema } },
  };
}

/** A JSON request body, required unless `options.required` is false. */
export function jsonBody(
  schema: JsonSchema,
  description?: string,
  options: { required?: boolean } = {},
): Operation["requestBody"] {
  return {
    required: options.required ?? true,
    ...(description ? { description } : {}),
    content: { "application/json": { schema } },
  };
}

/** Bytes as people read them: `64 KiB`, `4 MiB`. */
export function bytes(n: number): string {
  if (n >= 1024 ** 2 && n % 1024 ** 2 === 0) return `${n / 1024 ** 2} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

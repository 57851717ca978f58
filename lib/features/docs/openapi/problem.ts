/**
 * The one error body of the edge (RFC 9457 problem+json as `lib/platform/http/errors.ts` renders it) and
 * the error responses of the document, described by status with the `code`s each can carry.
 */

import { z } from "zod";
import { PROBLEM_CONTENT_TYPE } from "../../../platform/http/errors.ts";

/** One reason in `errors` (validation failures; `index` is the event of a batch). */
export const FieldErrorSchema = z.object({
  index: z.number().int().min(0).nullable().optional(),
  path: z.string(),
  message: z.string(),
});

/** The body of every error the edge makes itself. */
export const ProblemSchema = z.looseObject({
  type: z.url().describe("`https://outpost.dev/problems/<code with dashes>`"),
  title: z.string().describe("The status's reason phrase"),
  status: z.number().int().min(400).max(599),
  detail: z.string().describe("What went wrong, for people"),
  code: z.string().regex(/^[a-z0-9_]+$/).describe("What went wrong, for programs"),
  instance: z.string().optional().describe("The request path"),
  request_id: z.string().optional().describe("Also sent as `X-Request-Id`"),
  errors: z.array(FieldErrorSchema).optional().describe("Per-field reasons (validation)"),
}).describe("RFC 9457 problem details; other members may appear (e.g. `attempts` on 502)");

/** A response object of the document. */
export interface ResponseObject {
  description: string;
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
  content?: Record<string, { schema: Record<string, unknown> }>;
}

const REF = { $ref: "#/components/schemas/Problem" };

const HEADERS: Record<number, ResponseObject["headers"]> = {
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

/** A problem+json response whose description lists what it means here. */
export function problem(status: number, description: string): ResponseObject {
  const headers = HEADERS[status];
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { [PROBLEM_CONTENT_TYPE]: { schema: REF } },
  };
}

/** Problem responses by status (`{ 400: "validation_failed: …" }`). */
export function problems(byStatus: Record<number, string>): Record<string, ResponseObject> {
  const out: Record<string, ResponseObject> = {};
  for (const [status, description] of Object.entries(byStatus)) {
    out[status] = problem(Number(status), description);
  }
  return out;
}

/** Merges two sets of problem responses, joining the descriptions of a shared status. */
export function mergeProblems(
  a: Record<string, ResponseObject>,
  b: Record<string, ResponseObject>,
): Record<string, ResponseObject> {
  const out = { ...a };
  for (const [status, response] of Object.entries(b)) {
    const mine = out[status];
    out[status] = mine
      ? { ...mine, description: `${mine.description}; ${response.description}` }
      : response;
  }
  return out;
}

/** The response for statuses not listed: any other problem the edge makes (e.g. 500). */
export const DEFAULT_PROBLEM = problem(
  500,
  "Any other error the edge makes itself, e.g. `500 internal_error`",
);

/**
 * The one error body of the edge (RFC 9457 problem+json as `lib/platform/http/errors.ts` renders
 * it): `components.schemas.Problem` of the document, which every problem answer refers to.
 */

import { z } from "zod";

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

/** Turning zod failures on outside input into 400 problem+json with per-field reasons. */

import type { z } from "zod";
import { HttpError } from "./errors.ts";

/** One field-level reason. */
export interface FieldError {
  path: string;
  message: string;
}

/** Flattens zod issues into `{ path, message }` pairs (`path` like `events.3.user_id`). */
function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
}

/** Parses `value` with `schema` or throws a 400 `HttpError` naming each bad field. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error);
  const first = errors[0];
  throw new HttpError(400, `Invalid ${what}: ${first.path}: ${first.message}`, {
    code: "validation_failed",
    extensions: { errors },
  });
}

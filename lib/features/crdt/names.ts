/** What counts as a valid CRDT name, set element and replica id (for URLs, bodies and sync). */

import { z } from "zod";

/** Longest element, in characters (the KV key it lands in stays well under 2 KiB). */
const MAX_ELEMENT_LENGTH = 256;
/** Most replicas one counter or context may name. */
export const MAX_REPLICAS = 256;

/** A replica id: 1–64 letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const ReplicaIdSchema = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
  "Must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
);

/** A counter, set or register name: 1–64 letters, digits, `.`, `_`, `:`, `-`. */
export const CrdtNameSchema = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/,
  "Must be 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
);

/** C0 and C1 controls (`\p{Cc}`: U+0000–001F, U+007F–009F) and the line/paragraph separators. */
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

/** A set element: 1–256 characters of well-formed Unicode text without control characters. */
export const ElementSchema = z.string()
  .min(1, "Must not be empty")
  .max(MAX_ELEMENT_LENGTH, `Must be at most ${MAX_ELEMENT_LENGTH} characters`)
  .refine((s) => s.isWellFormed() && !CONTROL.test(s), {
    message: "Must be well-formed text without control characters",
  });

/** A count: a non-negative safe integer. */
export const CountSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

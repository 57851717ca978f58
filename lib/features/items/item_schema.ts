/** The schemas an item body may be held to (`data.itemSchema`), plus a nesting-depth guard. */

import { z } from "zod";

/** The built-in choices. */
export const ITEM_SCHEMAS = {
  /** Any JSON value. */
  json: z.json(),
  /** A JSON object. */
  object: z.record(z.string(), z.json()),
  /** A flat object of short strings, numbers, booleans and nulls. */
  "flat-object": z.record(
    z.string().min(1).max(128),
    z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]),
  ),
} as const;

/** Deepest nesting accepted in an item body. */
export const MAX_DEPTH = 32;

/** True when `value` nests arrays and objects no deeper than `max` (checked without recursion). */
export function withinDepth(value: unknown, max = MAX_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > max) return false;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

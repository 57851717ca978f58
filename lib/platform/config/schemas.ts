/** Schemas more than one part of the configuration uses: names, URLs, coordinates, addresses. */

import { z } from "zod";
import { parseCidr } from "../net/ip.ts";

/** A region name: lower-case letters, digits and dashes, as in `us-west` or `ap-southeast`. */
export const RegionNameSchema = z.string().regex(
  /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/,
  "Must be 1-32 lower-case letters, digits or dashes",
);

export const LatitudeSchema = z.number().min(-90).max(90);
export const LongitudeSchema = z.number().min(-180).max(180);

/** An IP address or CIDR range. */
export const CidrSchema = z.string().refine((s) => parseCidr(s) !== null, {
  message: "Not an IP address or CIDR range",
});

/** Path patterns: exact paths, or prefixes ending in `*`. */
export const PathPatternSchema = z.string().startsWith("/").max(512);

/**
 * A base URL (`scheme://host[:port][/prefix]`) with one of `protocols`, no credentials, query or
 * fragment; normalised without a trailing slash. `what` names it in messages ("Origin", "Peer").
 */
export function baseUrlSchema(what: string, protocols: readonly string[], maxLength: number) {
  const names = protocols.map((p) => p.replace(/:$/, ""));
  const allowed = names.length > 1
    ? `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`
    : names[0];
  return z.string().max(maxLength).transform((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: "custom", message: `Not a URL: ${value}` });
      return z.NEVER;
    }
    if (!protocols.includes(url.protocol)) {
      ctx.addIssue({ code: "custom", message: `${what} must be ${allowed}: ${value}` });
      return z.NEVER;
    }
    if (url.username || url.password || url.search || url.hash) {
      ctx.addIssue({
        code: "custom",
        message: `${what} must not carry credentials, a query or a fragment: ${value}`,
      });
      return z.NEVER;
    }
    return url.href.replace(/\/+$/, "");
  });
}

/** Adds an issue for every item whose name repeats an earlier one (`path(i)` points at it). */
export function flagDuplicates<T>(
  items: readonly T[],
  ctx: z.RefinementCtx,
  options: { name: (item: T) => string; path: (i: number) => (string | number)[]; what: string },
): Set<string> {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const name = options.name(item);
    if (seen.has(name)) {
      ctx.addIssue({
        code: "custom",
        path: options.path(i),
        message: `Duplicate ${options.what}: ${name}`,
      });
    }
    seen.add(name);
  });
  return seen;
}

/** True for a plain object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

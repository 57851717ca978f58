/**
 * Content codings (RFC 9110 §8.4, §12.5.3): the coding a `Content-Encoding` names, which codings
 * an `Accept-Encoding` accepts, and its normalised form (Fastly-style: br, else gzip, else
 * identity) used for cache keys and for what a proxy asks its origin for. Pure.
 */

/** Content codings the cache stores and decodes; it produces `br` and `gzip` itself. */
export type Coding = "gzip" | "br" | "zstd" | "deflate";

/** Codings the cache compresses identity bodies into, best first. */
const PRODUCED: readonly Coding[] = ["br", "gzip"];

/**
 * The coding a `Content-Encoding` names: null for none or identity; undefined for what the cache
 * does not handle (an unknown coding, or several stacked), which is then not stored.
 */
export function contentCoding(value: string | null): Coding | null | undefined {
  if (value === null) return null;
  const v = value.trim().toLowerCase();
  switch (v) {
    case "":
    case "identity":
      return null;
    case "gzip":
    case "x-gzip":
      return "gzip";
    case "br":
    case "zstd":
    case "deflate":
      return v;
    default:
      return undefined;
  }
}

/** A parsed `Accept-Encoding`: weights by coding (lower case) and for `*`. */
export interface AcceptedCodings {
  weights: ReadonlyMap<string, number>;
  star: number | undefined;
}

const NONE: AcceptedCodings = { weights: new Map(), star: undefined };
const MEMO_LIMIT = 256;
const memo = new Map<string, AcceptedCodings>();

function weightOf(params: string[]): number {
  for (const p of params) {
    const eq = p.indexOf("=");
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== "q") continue;
    const q = Number(p.slice(eq + 1).trim());
    return Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 1;
  }
  return 1;
}

/**
 * Parses `Accept-Encoding`. An absent or empty field accepts identity only: that is what nginx
 * and CDNs assume, and what clients without a decoder (scripts, old tools) need.
 */
export function parseAcceptEncoding(value: string | null): AcceptedCodings {
  if (value === null || value === "") return NONE;
  const known = memo.get(value);
  if (known !== undefined) return known;
  const weights = new Map<string, number>();
  let star: number | undefined;
  for (const part of value.slice(0, 1024).split(",")) {
    const [rawName, ...params] = part.split(";");
    let name = rawName.trim().toLowerCase();
    if (name === "") continue;
    if (name === "x-gzip") name = "gzip";
    const q = weightOf(params);
    if (name === "*") star ??= q;
    else if (!weights.has(name)) weights.set(name, q);
  }
  const parsed = { weights, star };
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value!);
  memo.set(value, parsed);
  return parsed;
}

/** Whether a client with `accepted` can take `coding` (null: identity). */
export function acceptsCoding(accepted: AcceptedCodings, coding: Coding | null): boolean {
  if (coding === null) {
    const q = accepted.weights.get("identity") ?? (accepted.star === 0 ? 0 : 1);
    return q > 0;
  }
  return (accepted.weights.get(coding) ?? accepted.star ?? 0) > 0;
}

/** The coding the cache would compress into for this client (br, else gzip), or null. */
export function preferredCoding(accepted: AcceptedCodings): Coding | null {
  for (const coding of PRODUCED) if (acceptsCoding(accepted, coding)) return coding;
  return null;
}

/**
 * The normalised `Accept-Encoding`: `br`, `gzip` or `identity`. It stands for the client's
 * value in the Vary key, so one URL has at most three entries whatever the browsers send.
 */
export function normalizeAcceptEncoding(value: string | null): "br" | "gzip" | "identity" {
  const accepted = parseAcceptEncoding(value);
  return acceptsCoding(accepted, "br")
    ? "br"
    : acceptsCoding(accepted, "gzip")
    ? "gzip"
    : "identity";
}

/** What the edge asks the origin for on behalf of a client: `br, gzip`, `gzip` or `identity`. */
export function upstreamAcceptEncoding(value: string | null): string {
  const accepted = parseAcceptEncoding(value);
  const codings = PRODUCED.filter((c) => acceptsCoding(accepted, c));
  return codings.length > 0 ? codings.join(", ") : "identity";
}

/**
 * Representations of a stored body for a cache that keeps what the origin sent: which media
 * types are worth compressing, and the plan (as it is, decoded, compressed) for a client's
 * `Accept-Encoding`. Pure; the byte work is in `transcode.ts`, the codings in
 * `../http/content_coding.ts`.
 */

import {
  acceptsCoding,
  type Coding,
  parseAcceptEncoding,
  preferredCoding,
} from "../../platform/http/content_coding.ts";

export type { Coding };
export { contentCoding, normalizeAcceptEncoding } from "../../platform/http/content_coding.ts";

/** Media types worth compressing (text and structured text; not media already compressed). */
const COMPRESSIBLE =
  /^(text\/(?!event-stream)[a-z0-9.+-]+|application\/(json|(x-)?javascript|ecmascript|xml|xhtml\+xml|rss\+xml|atom\+xml|ld\+json|manifest\+json|wasm|graphql-response\+json|x-www-form-urlencoded)|image\/(svg\+xml|x-icon|bmp)|font\/(ttf|otf)|application\/vnd\.ms-fontobject|[a-z]+\/[a-z0-9.+-]*\+(json|xml))\s*(;|$)/i;

/** Whether a body of this `Content-Type` is worth compressing. */
export function isCompressible(contentType: string | null): boolean {
  return contentType !== null && COMPRESSIBLE.test(contentType.trim());
}

/** How a stored body becomes the body a client gets. */
export type Plan =
  | { kind: "as-is" }
  /** Decode the stored coding (to identity, or to `to` when the client takes that instead). */
  | { kind: "decode"; to: Coding | null }
  /** Compress a stored identity body. */
  | { kind: "encode"; to: Coding }
  /** The client takes nothing the cache may produce (`no-transform` forbids changing it). */
  | { kind: "unacceptable" };

/** What the choice of representation needs to know about a stored response. */
export interface StoredRepresentation {
  /** The stored coding (null: identity). */
  coding: Coding | null;
  /** Its content is worth compressing (type, size, and compression on). */
  compressible: boolean;
  /** `Cache-Control: no-transform`: the body is served as stored or not at all. */
  noTransform: boolean;
}

/**
 * Picks how to answer a client with `acceptEncoding` from a stored representation. A range
 * request is never compressed (a compressor's output is not guaranteed to be the same bytes next
 * time, so ranges of it could not be joined); decoding is exact and allowed.
 */
export function planFor(
  stored: StoredRepresentation,
  acceptEncoding: string | null,
  range = false,
): Plan {
  const accepted = parseAcceptEncoding(acceptEncoding);
  const compress = stored.compressible && !range;
  if (stored.coding !== null) {
    if (acceptsCoding(accepted, stored.coding)) return { kind: "as-is" };
    if (stored.noTransform) return { kind: "unacceptable" };
    // RFC 9110 §12.5.3: with nothing acceptable, send identity anyway (unless refused outright,
    // which a cache cannot do better than identity either).
    return { kind: "decode", to: compress ? preferredCoding(accepted) : null };
  }
  if (!compress || stored.noTransform) return { kind: "as-is" };
  const to = preferredCoding(accepted);
  return to === null ? { kind: "as-is" } : { kind: "encode", to };
}

/** The key of a plan's representation (`as-is`, `identity`, `gzip`, `br` …). */
export function planKey(plan: Plan): string {
  switch (plan.kind) {
    case "as-is":
    case "unacceptable":
      return plan.kind;
    case "decode":
      return plan.to ?? "identity";
    case "encode":
      return plan.to;
  }
}

/** `W/"…"` for a strong entity-tag (a transformed body is not byte-identical); others as they are. */
export function weakEtag(etag: string): string {
  const t = etag.trim();
  return t.startsWith("W/") ? t : `W/${t}`;
}

/** A `Vary` value that names `Accept-Encoding` (added once, case-insensitively). */
export function varyWithAcceptEncoding(vary: string | null): string {
  if (vary === null || vary.trim() === "") return "Accept-Encoding";
  const names = vary.split(",").map((v) => v.trim().toLowerCase());
  if (names.includes("accept-encoding") || names.includes("*")) return vary;
  return `${vary}, Accept-Encoding`;
}

/**
 * Responses built from stored entries, the cheap way: `new Response(body)` and header fields set
 * afterwards (a headers init costs several µs in Deno), with `Age`, `Cache-Status` (RFC 9211)
 * and `X-Cache` added.
 */

import { HttpError } from "../../platform/http/errors.ts";
import { parseHttpDate } from "../../platform/http/http_date.ts";
import type { MemoryItem } from "./memory.ts";
import type { ByteTransform } from "./transcode.ts";

/** The short outcome sent as `X-Cache`. */
export type CacheOutcome = "HIT" | "MISS" | "STALE" | "REVALIDATED" | "EXPIRED" | "BYPASS";

const encoder = new TextEncoder();

/** Statuses whose responses never have a body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** What to add to a response built from an item. */
export interface ServeOptions {
  head: boolean;
  ageSeconds: number;
  /** Our `Cache-Status` member, e.g. `Outpost; hit; ttl=42`. */
  cacheStatus: string;
  outcome: CacheOutcome;
  /** `Deno-CDN-Cache-Control` value, if any. */
  cdn?: string | null;
  /** Answer `304 Not Modified` (the client's validator matched). */
  notModified?: boolean;
  /** The body's length is not the stored one (it is transformed as it is sent). */
  lengthUnknown?: boolean;
}

/** Makes a transform a stored body goes through on its way out (see `represent.ts`). */
export type BodyTransform = () => ByteTransform;

/**
 * Builds the response for a stored item. Fields are appended (cheaper than `set`: a fresh
 * response has none but the body's content type), and as few as possible are touched, because
 * every header costs on the way out too.
 */
export function serveItem(item: MemoryItem, o: ServeOptions): Response {
  const status = o.notModified ? 304 : item.entry.status;
  if (status === 200 && !o.head) return fromTemplate(item, o);
  const noBody = o.head || NULL_BODY.has(status);
  // A HEAD whose length is unknown: an empty stream, so that no `Content-Length: 0` is claimed.
  const body = !noBody
    ? item.body as BodyInit
    : o.head && o.lengthUnknown && !NULL_BODY.has(status)
    ? new ReadableStream({ start: (c) => c.close() })
    : null;
  const res = status === 200 ? new Response(body) : new Response(body, { status });
  const h = res.headers;
  if (item.contentType !== null) {
    if (!o.notModified) h.set("content-type", item.contentType);
  } else if (!noBody && typeof item.body === "string") h.delete("content-type");
  const f = item.fields;
  for (let i = 0; i < f.length; i += 2) h.append(f[i], f[i + 1]);
  if (o.head && !NULL_BODY.has(status) && !o.lengthUnknown) {
    h.append("content-length", String(item.entry.size));
  }
  appendServed(h, item, o);
  return res;
}

/** A response whose stored body goes through `transforms` as it is sent (no Content-Length). */
function serveTransformed(
  item: MemoryItem,
  transforms: readonly BodyTransform[],
  o: { ageSeconds: number; cacheStatus: string; outcome: CacheOutcome; cdn?: string | null },
): Response {
  const bytes = typeof item.body === "string" ? encoder.encode(item.body) : item.body;
  let body: ReadableStream<Uint8Array> = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
  for (const make of transforms) body = body.pipeThrough(make());
  const status = item.entry.status;
  const res = status === 200 ? new Response(body) : new Response(body, { status });
  const h = res.headers;
  if (item.contentType !== null) h.set("content-type", item.contentType);
  const f = item.fields;
  for (let i = 0; i < f.length; i += 2) h.append(f[i], f[i + 1]);
  appendServed(h, item, o);
  return res;
}

/** This answer's own fields: `Age`, `Cache-Status`, `X-Cache` and `Deno-CDN-Cache-Control`. */
function appendServed(
  h: Headers,
  item: MemoryItem,
  o: { ageSeconds: number; cacheStatus: string; outcome: CacheOutcome; cdn?: string | null },
): void {
  h.append("age", String(o.ageSeconds));
  h.append(
    "cache-status",
    item.upstreamStatus === null ? o.cacheStatus : `${item.upstreamStatus}, ${o.cacheStatus}`,
  );
  h.append("x-cache", o.outcome);
  if (o.cdn) h.append("deno-cdn-cache-control", o.cdn);
}

/** A `200` with a body: a clone of the item's template plus this hit's own fields. */
function fromTemplate(item: MemoryItem, o: ServeOptions): Response {
  let template = item.template;
  if (template === undefined) {
    template = item.template = new Response(item.body as BodyInit);
    const t = template.headers;
    if (item.contentType !== null) t.set("content-type", item.contentType);
    else if (typeof item.body === "string") t.delete("content-type");
    const f = item.fields;
    for (let i = 0; i < f.length; i += 2) t.append(f[i], f[i + 1]);
  }
  const res = template.clone();
  const h = res.headers;
  appendServed(h, item, o);
  return res;
}

/** Adds `X-Cache` and `Cache-Status` to a response passed through from the origin. */
export function markPassThrough(
  res: Response,
  outcome: CacheOutcome,
  cacheStatus: string,
): Response {
  try {
    res.headers.set("x-cache", outcome);
  } catch {
    res = new Response(res.body, res);
    res.headers.set("x-cache", outcome);
  }
  const upstream = res.headers.get("cache-status");
  res.headers.set("cache-status", upstream ? `${upstream}, ${cacheStatus}` : cacheStatus);
  res.headers.delete("outpost-cache-control");
  return res;
}

/** Weak comparison of an `If-None-Match` list with a stored ETag (RFC 9110 §13.1.2). */
function etagMatches(ifNoneMatch: string, etag: string | null): boolean {
  if (etag === null) return ifNoneMatch.trim() === "*";
  if (ifNoneMatch.trim() === "*") return true;
  const strip = (t: string) => t.trim().replace(/^W\//, "");
  const ours = strip(etag);
  return ifNoneMatch.split(",").some((t) => strip(t) === ours);
}

/**
 * Whether a conditional GET/HEAD can be answered `304` from a stored response (RFC 9110 §13.2.2:
 * If-None-Match wins over If-Modified-Since).
 */
function notModified(
  ifNoneMatch: string | null,
  ifModifiedSince: string | null,
  item: MemoryItem,
): boolean {
  if (item.entry.status !== 200) return false;
  if (ifNoneMatch !== null) return etagMatches(ifNoneMatch, item.etag);
  if (ifModifiedSince === null || item.lastModified === null) return false;
  // An If-Modified-Since that is not an HTTP-date is ignored (RFC 9110 §13.1.3).
  const since = parseHttpDate(ifModifiedSince);
  const modified = parseHttpDate(item.lastModified);
  return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
}

/** A satisfiable byte range: first and last byte positions, both inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

const RANGE_SPEC = /^(\d{0,15})-(\d{0,15})$/;

/**
 * The one byte range a `Range` field asks of a `size`-byte representation (RFC 9110 §14.1.2):
 * a range, `"unsatisfiable"` (416), or null when the field is to be ignored and the whole
 * response sent, as the RFC allows: another unit, bad syntax, or several ranges.
 */
export function parseRange(value: string, size: number): ByteRange | "unsatisfiable" | null {
  const eq = value.indexOf("=");
  if (eq < 0 || value.slice(0, eq).trim().toLowerCase() !== "bytes") return null;
  const specs = value.slice(eq + 1).split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length !== 1) return null;
  const m = RANGE_SPEC.exec(specs[0]);
  if (m === null || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === "" ? Infinity : Number(m[2]);
  if (last < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(last, size - 1) };
}

/**
 * Whether `If-Range` lets a range be sent (RFC 9110 §13.1.5): an entity-tag must match the
 * stored one by strong comparison, a date must equal the stored `Last-Modified`.
 */
export function ifRangeHolds(ifRange: string | null, item: MemoryItem): boolean {
  if (ifRange === null) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith("W/")) {
    return item.etag !== null && !value.startsWith("W/") && !item.etag.startsWith("W/") &&
      value === item.etag.trim();
  }
  if (item.lastModified === null) return false;
  const date = parseHttpDate(value);
  return Number.isFinite(date) && date === parseHttpDate(item.lastModified);
}

/**
 * The response for a stored item answering `reqHeaders`: `304` when the client's validators
 * match, `206` with one byte range when asked for (416 when it lies past the end), else the item
 * (no body for HEAD), with `Age` from `now`.
 */
export function answer(
  item: MemoryItem,
  head: boolean,
  reqHeaders: Headers,
  o: {
    ageSeconds: number;
    cacheStatus: string;
    outcome: CacheOutcome;
    cdn: string | null;
    /** The body is produced from the stored one as it is sent (ranges are then not cut). */
    transforms?: readonly BodyTransform[];
  },
): Response {
  const inm = reqHeaders.get("if-none-match");
  const ims = inm === null ? reqHeaders.get("if-modified-since") : null;
  const unchanged = (inm !== null || ims !== null) && notModified(inm, ims, item);
  const transforms = o.transforms;
  if (transforms !== undefined && transforms.length > 0) {
    if (!unchanged && !head && !NULL_BODY.has(item.entry.status)) {
      return serveTransformed(item, transforms, o);
    }
    return serveItem(item, {
      head,
      ageSeconds: o.ageSeconds,
      cacheStatus: o.cacheStatus,
      outcome: o.outcome,
      cdn: o.cdn,
      notModified: unchanged,
      lengthUnknown: true,
    });
  }
  if (!unchanged && !head && item.entry.status === 200) {
    const range = reqHeaders.get("range");
    if (range !== null && ifRangeHolds(reqHeaders.get("if-range"), item)) {
      const picked = parseRange(range, item.entry.size);
      if (picked === "unsatisfiable") {
        throw new HttpError(
          416,
          `The range ${JSON.stringify(range.slice(0, 100))} lies outside the ` +
            `${item.entry.size}-byte response`,
          {
            code: "range_not_satisfiable",
            headers: { "content-range": `bytes */${item.entry.size}`, "x-cache": o.outcome },
          },
        );
      }
      if (picked !== null) return servePart(item, picked, o);
    }
  }
  return serveItem(item, {
    head,
    ageSeconds: o.ageSeconds,
    cacheStatus: o.cacheStatus,
    outcome: o.outcome,
    cdn: o.cdn,
    notModified: unchanged,
  });
}

/** A `206 Partial Content` with one range of the item's body (never offered to Deno's CDN). */
function servePart(
  item: MemoryItem,
  range: ByteRange,
  o: { ageSeconds: number; cacheStatus: string; outcome: CacheOutcome },
): Response {
  const bytes = typeof item.body === "string" ? encoder.encode(item.body) : item.body;
  const part = bytes.subarray(range.start, range.end + 1) as Uint8Array<ArrayBuffer>;
  const res = new Response(part, { status: 206 });
  const h = res.headers;
  if (item.contentType !== null) h.set("content-type", item.contentType);
  const f = item.fields;
  for (let i = 0; i < f.length; i += 2) h.append(f[i], f[i + 1]);
  h.append("content-range", `bytes ${range.start}-${range.end}/${item.entry.size}`);
  appendServed(h, item, o);
  return res;
}

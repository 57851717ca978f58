/**
 * The byte-level side of fills: the request the cache sends (its own validators, none of the
 * client's), reading an origin body within a limit, and the error statuses of stale-if-error.
 */

import type { MemoryItem } from "./memory.ts";

/** Origin statuses that count as errors for stale-if-error (RFC 5861 §4). */
export const ERROR_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504]);

const CONDITIONAL = [
  "if-none-match",
  "if-modified-since",
  "if-match",
  "if-unmodified-since",
  "if-range",
  "range",
];
const encoder = new TextEncoder();

/** The body bytes of a memory item. */
export function itemBytes(item: MemoryItem): Uint8Array {
  return typeof item.body === "string" ? encoder.encode(item.body) : item.body;
}

/** The request the cache sends: the client's fields minus its validators, plus ours. */
export function originRequest(req: Request, stale: MemoryItem | null): Request {
  const headers = new Headers(req.headers);
  for (const name of CONDITIONAL) headers.delete(name);
  if (stale?.etag) headers.set("if-none-match", stale.etag);
  if (stale?.lastModified) headers.set("if-modified-since", stale.lastModified);
  return new Request(req.url, { method: "GET", headers });
}

/** A valid `Content-Length`, or null. */
export function contentLength(headers: Headers): number | null {
  const v = headers.get("content-length");
  return v !== null && /^\d{1,15}$/.test(v) ? Number(v) : null;
}

/** The response again, with a body that was read into memory. */
export function rebuild(res: Response, body: Uint8Array): Response {
  return new Response(body as Uint8Array<ArrayBuffer>, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

/**
 * Reads a body up to `limit` bytes. Within the limit: the bytes. Over it: a response that sends
 * what was read and then the rest, streamed (not cached). Errors of the body stream propagate.
 */
export async function readLimited(res: Response, limit: number): Promise<Uint8Array | Response> {
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    size += value.byteLength;
    if (size > limit) {
      const rest = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const p of parts) controller.enqueue(p);
        },
        async pull(controller) {
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      return new Response(rest, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    }
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

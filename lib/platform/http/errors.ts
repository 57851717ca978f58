/** One error type for everything the edge answers itself, rendered as RFC 9457 problem+json. */

import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Options for {@linkcode HttpError}. */
export interface HttpErrorOptions {
  /** A short, stable, machine-readable reason, e.g. `invalid_json`. */
  code?: string;
  /** Extra members of the problem object (e.g. per-field validation errors). */
  extensions?: Record<string, unknown>;
  /** Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`). */
  headers?: Record<string, string>;
  cause?: unknown;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  508: "Loop Detected",
};

/** An error the edge answers with: a status, a human reason and a machine code. */
export class HttpError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(status: number, detail: string, options: HttpErrorOptions = {}) {
    super(detail, { cause: options.cause });
    this.name = "HttpError";
    this.status = (status >= 400 && status <= 599 ? status : 500) as ContentfulStatusCode;
    this.code = options.code ?? slug(TITLES[this.status] ?? "error");
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, "_");
}

/** The RFC 9457 body for an error. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  request_id?: string;
  [extension: string]: unknown;
}

/** Builds a problem+json response. */
export function problemResponse(
  error: HttpError,
  context: { instance?: string; requestId?: string } = {},
): Response {
  const body: Problem = {
    ...error.extensions,
    type: `https://outpost.dev/problems/${error.code.replaceAll("_", "-")}`,
    title: TITLES[error.status] ?? "Error",
    status: error.status,
    detail: error.message,
    code: error.code,
  };
  if (context.instance) body.instance = context.instance;
  if (context.requestId) body.request_id = context.requestId;
  const headers = new Headers(error.headers);
  headers.set("content-type", PROBLEM_CONTENT_TYPE);
  headers.set("cache-control", "no-store");
  return new Response(JSON.stringify(body), { status: error.status, headers });
}

/** Logs unexpected errors; expected `HttpError`s are the request's answer, not a fault. */
export type ErrorReporter = (error: unknown, c: Context) => void;

/**
 * What the edge answers for an error: an `HttpError` as it is, anything else as an opaque 500
 * (after `report`, which logs it). `path` is the request's, cut to a safe length.
 */
export function problemFor(
  err: unknown,
  context: { path: string; requestId?: string },
  report: () => void,
): { response: Response; code: string } {
  const path = context.path;
  const instance = path.length > 256 ? path.slice(0, 256) + "…" : path;
  const requestId = context.requestId;
  if (err instanceof HttpError) {
    return { code: err.code, response: problemResponse(err, { instance, requestId }) };
  }
  report();
  const internal = new HttpError(500, "The edge failed to handle this request", {
    code: "internal_error",
  });
  return { code: internal.code, response: problemResponse(internal, { instance, requestId }) };
}

/** The app's single error handler: `HttpError` as-is, anything else as an opaque 500. */
export function problemHandler(report: ErrorReporter): ErrorHandler {
  return function problemHandler(err, c) {
    const { response, code } = problemFor(
      err,
      { path: c.req.path, requestId: requestIdOf(c) },
      () => report(err, c),
    );
    markProblem(c, code);
    return response;
  };
}

/** 404 for anything no route claimed. */
export const problemNotFound: NotFoundHandler = function problemNotFound(c) {
  const requestId = requestIdOf(c);
  markProblem(c, "not_found");
  return problemResponse(
    new HttpError(404, `No route for ${c.req.method} ${safePath(c)}`, { code: "not_found" }),
    { instance: safePath(c), requestId },
  );
};

/** Tells the request context (metrics, logs) that the edge answered with a problem itself. */
function markProblem(c: Context, code: string): void {
  const ctx = (c.env as { ctx?: { problem?: string } } | undefined)?.ctx;
  if (ctx) ctx.problem = code;
}

function requestIdOf(c: Context): string | undefined {
  const env = c.env as { ctx?: { requestId?: string } } | undefined;
  return env?.ctx?.requestId;
}

function safePath(c: Context): string {
  const path = c.req.path;
  return path.length > 256 ? path.slice(0, 256) + "…" : path;
}

/** Options for {@linkcode readJsonBody}. */
export interface ReadJsonOptions {
  /**
   * What a request without a body (zero bytes, whatever its content type) stands for; without
   * this option such a body is invalid JSON (400).
   */
  empty?: unknown;
}

/** Throws a 400 unless `body` parses as JSON of at most `maxBytes`. */
export async function readJsonBody(
  req: Request,
  maxBytes: number,
  options: ReadJsonOptions = {},
): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  const wrongType = type !== "" && !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type);
  if (wrongType && !("empty" in options)) throw unsupportedType(type);
  const text = await readTextLimited(req, maxBytes);
  if (text === "" && "empty" in options) return options.empty;
  if (wrongType) throw unsupportedType(type);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `Body is not valid JSON: ${(e as Error).message}`, {
      code: "invalid_json",
    });
  }
}

function unsupportedType(type: string): HttpError {
  return new HttpError(415, `Expected application/json, got: ${type.slice(0, 100)}`, {
    code: "unsupported_media_type",
  });
}

/** Reads a request body as text, refusing (413) anything over `maxBytes`. */
export async function readTextLimited(req: Request, maxBytes: number): Promise<string> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    throw new HttpError(413, `Body exceeds ${maxBytes} bytes: ${declared}`, {
      code: "body_too_large",
    });
  }
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, `Body exceeds ${maxBytes} bytes`, { code: "body_too_large" });
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, `Could not read the request body: ${(e as Error).message}`, {
      code: "unreadable_body",
    });
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw new HttpError(400, "Body is not valid UTF-8", { code: "invalid_utf8" });
  }
}

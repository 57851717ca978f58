/**
 * Users' functions as routes of the main app (after authorization and tracking, so the edge's
 * rules apply to them as to everything else). Each call gets its context and its time limit; a
 * throw becomes a 500 problem with the request id (the stack goes to the log only), a call past
 * its limit a 504 while its promise is abandoned, and every outcome is measured per function.
 */

import { type Context, Hono } from "hono";
import { keepOutOfDenoCdn } from "../deploy/cdn.ts";
import type { AppEnv } from "../../core/request.ts";
import { abTesting } from "../ab/middleware.ts";
import type { Experiment } from "../ab/config.ts";
import { HttpError } from "../../platform/http/errors.ts";
import type { BoundCounter, Counter } from "../../core/metrics.ts";
import type { LatencyHistogram } from "../../core/histogram.ts";
import { CallClock, callContext, type CallParts } from "./context.ts";
import { type CompiledFunction, METHODS, shadowedPrefix } from "./manifest.ts";
import type { FunctionHandler } from "./types.ts";

/** What the router needs for one function. */
export interface BoundFunction {
  fn: CompiledFunction;
  /** The call parts that do not depend on the request. */
  parts: Omit<CallParts, "c">;
  duration: LatencyHistogram;
  /** Answers by status class (1xx…5xx). */
  calls: BoundCounter[];
  errors: Counter;
}

/** Options of {@linkcode functionRoutes}. */
export interface FunctionRoutesOptions {
  experiments: readonly Experiment[];
  maxBodyBytes: number;
}

const TIMED_OUT = Symbol("timed out");

/** A request whose body errors (413) once more than `max` bytes have been read from it. */
function limitBody(req: Request, max: number): Request {
  if (req.body === null) return req;
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > max) {
    throw new HttpError(413, `Body exceeds ${max} bytes: ${declared.slice(0, 20)}`, {
      code: "body_too_large",
    });
  }
  let size = 0;
  const limited = req.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > max) {
          controller.error(
            new HttpError(413, `Body exceeds ${max} bytes`, { code: "body_too_large" }),
          );
        } else controller.enqueue(chunk);
      },
    }),
  );
  // `duplex` is what fetch requires for a streamed body (not yet in Deno's RequestInit type).
  const init: RequestInit & { duplex: "half" } = {
    method: req.method,
    headers: req.headers,
    body: limited,
    signal: req.signal,
    duplex: "half",
  };
  return new Request(req.url, init);
}

function handlerFor(fn: CompiledFunction, method: string): FunctionHandler | null {
  const own = fn.handlers[method as keyof CompiledFunction["handlers"]];
  if (own) return own;
  if (method === "HEAD" && fn.handlers.GET) return fn.handlers.GET;
  return fn.fallback;
}

function allowed(fn: CompiledFunction): string {
  if (fn.fallback) return METHODS.join(", ");
  const methods = METHODS.filter((m) => fn.handlers[m] || (m === "HEAD" && fn.handlers.GET));
  return methods.join(", ");
}

/** Runs one call of `bound` for the request in `c`. */
async function invoke(
  c: Context<AppEnv>,
  bound: BoundFunction,
  options: FunctionRoutesOptions,
): Promise<Response> {
  const { fn } = bound;
  const method = c.req.raw.method;
  const handler = handlerFor(fn, method);
  if (handler === null) {
    throw new HttpError(405, `The function ${fn.name} does not answer ${method.slice(0, 20)}`, {
      code: "method_not_allowed",
      headers: { allow: allowed(fn) },
    });
  }
  const req = limitBody(c.req.raw, options.maxBodyBytes);
  const started = performance.now();
  const clock = new CallClock(fn.timeoutMs);
  const ctx = callContext({ ...bound.parts, c }, clock);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), fn.timeoutMs);
  });
  // A synchronous throw becomes a rejection like an asynchronous one.
  const call = (async () => await handler(req, ctx))();
  let outcome: Response | typeof TIMED_OUT;
  try {
    outcome = await Promise.race([call, timeout]);
  } catch (error) {
    bound.duration.record(performance.now() - started);
    if (error instanceof HttpError) {
      // The function's own problem (or one from ctx.origin, e.g. no origin reachable).
      bound.calls[classOf(error.status)].inc();
      bound.errors.inc({ function: fn.name, kind: "problem" });
      throw error;
    }
    bound.calls[4].inc();
    bound.errors.inc({ function: fn.name, kind: "threw" });
    c.env.ctx.functionFault = true;
    bound.parts.log.error("function threw", {
      request_id: c.env.ctx.requestId,
      method,
      error,
    });
    throw new HttpError(500, `The function ${fn.name} failed`, { code: "function_error" });
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - started;
  bound.duration.record(ms);
  if (outcome === TIMED_OUT) {
    clock.expire(
      new DOMException(`The function's time limit of ${fn.timeoutMs} ms passed`, "TimeoutError"),
    );
    bound.calls[4].inc();
    bound.errors.inc({ function: fn.name, kind: "timeout" });
    c.env.ctx.functionFault = true;
    abandon(call, bound, c.env.ctx.requestId);
    bound.parts.log.warn("function timed out", {
      request_id: c.env.ctx.requestId,
      method,
      timeout_ms: fn.timeoutMs,
    });
    throw new HttpError(
      504,
      `The function ${fn.name} did not answer within ${fn.timeoutMs} ms`,
      { code: "function_timeout" },
    );
  }
  if (!(outcome instanceof Response)) {
    bound.calls[4].inc();
    bound.errors.inc({ function: fn.name, kind: "invalid_response" });
    c.env.ctx.functionFault = true;
    bound.parts.log.error("function returned no Response", {
      request_id: c.env.ctx.requestId,
      returned: outcome === null ? "null" : typeof outcome,
    });
    throw new HttpError(500, `The function ${fn.name} returned no Response`, {
      code: "function_error",
    });
  }
  bound.calls[classOf(outcome.status)].inc();
  return keptFromCdn(outcome, c);
}

/**
 * Deno Deploy's CDN answers before the edge runs and honours `Cache-Control`: what authorization
 * decided or an experiment varied must never be stored there, whatever the function said.
 */
function keptFromCdn(res: Response, c: Context<AppEnv>): Response {
  const ctx = c.env.ctx;
  let varied = false;
  for (const _ in ctx.variants) varied = true;
  if (ctx.authz === undefined && !varied) return res;
  return keepOutOfDenoCdn(res);
}

/** What becomes of a call the client no longer waits for: its body dropped, its failure logged. */
function abandon(call: Promise<Response>, bound: BoundFunction, requestId: string): void {
  call.then(
    (late) => {
      if (late instanceof Response) late.body?.cancel().catch(() => {});
    },
    (error) => {
      bound.errors.inc({ function: bound.fn.name, kind: "late_failure" });
      bound.parts.log.warn("function failed after its time limit", {
        request_id: requestId,
        error,
      });
    },
  );
}

function classOf(status: number): number {
  const cls = Math.floor(status / 100) - 1;
  return cls < 0 ? 0 : cls > 4 ? 4 : cls;
}

/** The Hono app with one route per function, most specific first. */
export function functionRoutes(
  functions: readonly BoundFunction[],
  options: FunctionRoutesOptions,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const experiments = abTesting(options.experiments);
  for (const bound of functions) {
    app.all(bound.fn.route, experiments, function edgeFunction(c, next) {
      // A function whose first segment is a parameter never sees the edge's own paths.
      if (shadowedPrefix(c.req.path) !== null) return next();
      return invoke(c, bound, options);
    });
  }
  return app;
}

/**
 * Forwarding to origins: streaming bodies, a timeout per attempt, failover to the next-nearest
 * healthy origin for idempotent requests (never the same origin twice), and passive circuit
 * breakers fed by every outcome: transport failures always, configured statuses per path group.
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { HttpError } from "../../platform/http/errors.ts";
import type { OriginHealth } from "./breaker.ts";
import { DeadlineQueue } from "./deadlines.ts";
import { stripResponseHops } from "./headers.ts";
import { firstSegment } from "./path_group.ts";

/** A place a request can be forwarded to (a configured region). */
export interface ForwardTarget {
  name: string;
  origin: string;
}

/** What happened on one attempt, for metrics and the problem body. */
export interface AttemptOutcome {
  region: string;
  origin: string;
  /** `ok` (any answer but 502/503/504), `bad_gateway_status`, `timeout`, `network_error`. */
  outcome: "ok" | "bad_gateway_status" | "timeout" | "network_error";
  status?: number;
  error?: string;
  durationMs: number;
}

/** Settings and collaborators of a {@linkcode Forwarder}. */
export interface ForwarderOptions {
  fetch: typeof fetch;
  health: OriginHealth;
  clock: Clock;
  /** Time allowed for an origin's response headers. */
  timeoutMs: number;
  /** Time allowed for a response body to reach the client once headers arrived. */
  bodyTimeoutMs: number;
  maxAttempts: number;
  /** Idempotent bodies up to this size are buffered so they can be sent again. */
  retryBodyLimitBytes: number;
  log: Logger;
  /** Called after every attempt (metrics). */
  onAttempt?: (attempt: AttemptOutcome) => void;
  /** Origin answers that count against the origin for the request's path group (default none). */
  countStatuses?: readonly number[];
  /** The path group of a request path, for `countStatuses` (default: its first segment). */
  pathGroup?: (path: string) => string;
}

/** The response to send and where it came from. */
export interface ForwardResult {
  response: Response;
  region: string;
  attempts: AttemptOutcome[];
  /** Time to the chosen origin's response headers. */
  upstreamMs: number;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const RETRY_STATUSES = new Set([502, 503, 504]);

class UpstreamTimeout extends Error {
  constructor(ms: number) {
    super(`No response within ${ms} ms`);
    this.name = "UpstreamTimeout";
  }
}

/** Forwards requests to an ordered list of targets. */
export class Forwarder {
  readonly #o: ForwarderOptions;
  readonly #counted: ReadonlySet<number>;
  readonly #pathGroup: (path: string) => string;
  /** Base URL → `scheme://host:port`: two regions on one server are one origin to retries. */
  readonly #servers = new Map<string, string>();
  /** Waiting for an origin's response headers, then for its body to reach the client. */
  readonly #headerDeadlines: DeadlineQueue;
  readonly #bodyDeadlines: DeadlineQueue;

  constructor(options: ForwarderOptions) {
    if (!(options.timeoutMs > 0)) throw new RangeError(`Invalid timeout: ${options.timeoutMs}`);
    if (!(options.maxAttempts >= 1)) {
      throw new RangeError(`Invalid max attempts: ${options.maxAttempts}`);
    }
    this.#o = options;
    this.#counted = new Set(options.countStatuses ?? []);
    this.#pathGroup = options.pathGroup ?? firstSegment;
    const onError = (error: unknown) => options.log.error("origin deadline failed", { error });
    this.#headerDeadlines = new DeadlineQueue(options.timeoutMs, { onError });
    this.#bodyDeadlines = new DeadlineQueue(options.bodyTimeoutMs, { onError });
  }

  #server(origin: string): string {
    let server = this.#servers.get(origin);
    if (server === undefined) {
      try {
        server = new URL(origin).origin;
      } catch {
        server = origin;
      }
      // The URL's origin of `internal://demo` is "null": keep the base URL itself.
      if (server === "null") server = origin;
      if (this.#servers.size < 1000) this.#servers.set(origin, server);
    }
    return server;
  }

  /**
   * Sends `req` (method and body) with `headers` to `pathAndQuery` on the first available
   * target, failing over in order. Throws `HttpError` 502/503/504 when no origin answers.
   */
  async forward(
    req: Request,
    targets: readonly ForwardTarget[],
    init: {
      pathAndQuery: string;
      /** The request's fields (a plain record is what `fetch` takes fastest). */
      headers: HeadersInit;
      /** Settles when the response has been delivered (`Deno.serve`'s `info.completed`). */
      completed?: Promise<void>;
      /** Largest request body sent (413 past it; streamed bodies are cut when they pass it). */
      maxBodyBytes?: number;
      /** For the log lines of failed attempts. */
      requestId?: string;
    },
  ): Promise<ForwardResult> {
    const method = req.method.toUpperCase();
    const body = method === "GET" || method === "HEAD" || req.body === null
      ? NO_BODY
      : await prepareBody(req, method, this.#o.retryBodyLimitBytes, init.maxBodyBytes);
    const attempts: AttemptOutcome[] = [];
    const health = this.#o.health;
    const group = this.#counted.size === 0 ? null : this.#pathGroup(pathOnly(init.pathAndQuery));
    // Nowhere in rotation: probe (or, in panic mode, just send) rather than refuse by ourselves.
    let allOut = true;
    for (const t of targets) {
      if (health.isAvailable(t.origin, group)) {
        allOut = false;
        break;
      }
    }
    const tried = new Set<string>();
    let lastResponse: {
      response: Response;
      target: ForwardTarget;
      controller: AbortController;
      upstreamMs: number;
    } | null = null;
    let lastError: unknown = null;

    for (const target of targets) {
      if (attempts.length >= this.#o.maxAttempts) break;
      const server = this.#server(target.origin);
      if (tried.has(server)) continue;
      const admitted = allOut
        ? health.tryProbe(target.origin, group)
        : health.tryAcquire(target.origin, group);
      if (!admitted) continue;
      tried.add(server);
      const canRetry = body.replayable && IDEMPOTENT.has(method);
      const started = performance.now();
      const url = target.origin + init.pathAndQuery;
      const controller = new AbortController();
      const onClientAbort = () => controller.abort(req.signal.reason);
      req.signal.addEventListener("abort", onClientAbort);
      const deadline = this.#headerDeadlines.add(() =>
        controller.abort(new UpstreamTimeout(this.#o.timeoutMs))
      );
      let response: Response;
      try {
        response = await this.#o.fetch(url, {
          method,
          headers: init.headers,
          body: body.take(),
          redirect: "manual",
          signal: controller.signal,
        });
      } catch (error) {
        this.#headerDeadlines.cancel(deadline);
        req.signal.removeEventListener("abort", onClientAbort);
        const durationMs = performance.now() - started;
        if (req.signal.aborted) {
          health.release(target.origin, group);
          throw new HttpError(499, "The client closed the request", { code: "client_closed" });
        }
        if (body.exceeded()) {
          // The client's body passed the limit while streaming: its fault, not the origin's.
          this.#o.health.release(target.origin);
          throw new HttpError(413, `Request body larger than ${init.maxBodyBytes} bytes`, {
            code: "body_too_large",
          });
        }
        const timedOut = controller.signal.reason instanceof UpstreamTimeout;
        const message = timedOut ? (controller.signal.reason as Error).message : describe(error);
        health.failure(target.origin, message, group);
        const attempt: AttemptOutcome = {
          region: target.name,
          origin: target.origin,
          outcome: timedOut ? "timeout" : "network_error",
          error: message,
          durationMs,
        };
        attempts.push(attempt);
        this.#o.onAttempt?.(attempt);
        this.#o.log.warn("origin attempt failed", {
          request_id: init.requestId,
          region: target.name,
          origin: target.origin,
          error: message,
        });
        lastError = timedOut ? controller.signal.reason : error;
        if (!canRetry) break;
        continue;
      }
      this.#headerDeadlines.cancel(deadline);
      const upstreamMs = performance.now() - started;
      const retryStatus = RETRY_STATUSES.has(response.status);
      const attempt: AttemptOutcome = {
        region: target.name,
        origin: target.origin,
        outcome: retryStatus ? "bad_gateway_status" : "ok",
        status: response.status,
        durationMs: upstreamMs,
      };
      attempts.push(attempt);
      this.#o.onAttempt?.(attempt);
      // An answer is an answer: only configured statuses count, and only for this path group.
      if (group !== null && this.#counted.has(response.status)) {
        health.statusFailure(target.origin, group, `Answered ${response.status}`);
      } else {
        health.success(target.origin, group);
      }
      if (retryStatus) {
        if (canRetry && attempts.length < this.#o.maxAttempts) {
          if (lastResponse) await lastResponse.response.body?.cancel().catch(() => {});
          lastResponse = { response, target, controller, upstreamMs };
          req.signal.removeEventListener("abort", onClientAbort);
          continue;
        }
      }
      if (lastResponse) await lastResponse.response.body?.cancel().catch(() => {});
      return {
        response: this.#wrap(response, target, controller, req, onClientAbort, init.completed),
        region: target.name,
        attempts,
        upstreamMs,
      };
    }

    if (lastResponse) {
      const { response, target, controller, upstreamMs } = lastResponse;
      return {
        response: this.#wrap(response, target, controller, req, () => {}, init.completed),
        region: target.name,
        attempts,
        upstreamMs,
      };
    }
    if (attempts.length === 0) {
      // Only while a probe is in flight: the next request after it may go at once.
      throw new HttpError(503, "Every origin is out of rotation after repeated failures", {
        code: "origins_unavailable",
        headers: { "retry-after": "1" },
      });
    }
    const timedOut = lastError instanceof UpstreamTimeout;
    // The public answer names regions and outcomes only: origin addresses and socket errors stay
    // in the log lines above, found by the request id.
    throw new HttpError(
      timedOut ? 504 : 502,
      timedOut ? `No origin answered within ${this.#o.timeoutMs} ms` : "No origin could be reached",
      {
        code: timedOut ? "origin_timeout" : "origin_unreachable",
        extensions: {
          attempts: attempts.map(({ region, outcome, status }) => ({ region, outcome, status })),
        },
      },
    );
  }

  /**
   * The client-facing response: cleaned headers, and the origin's body passed through as is (a
   * fetch body handed to `Deno.serve` untouched is piped natively, without a JS pump). A body
   * that stalls is cut after `bodyTimeoutMs`, measured until the response is delivered.
   */
  #wrap(
    upstream: Response,
    target: ForwardTarget,
    controller: AbortController,
    req: Request,
    onClientAbort: () => void,
    completed: Promise<void> | undefined,
  ): Response {
    // The origin's fields copied whole (cheaper than field by field), then the hop-by-hop ones
    // taken out of the copy.
    const init = {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: upstream.headers,
    };
    let res: Response;
    if (!upstream.body || req.method === "HEAD") {
      upstream.body?.cancel().catch(() => {});
      req.signal.removeEventListener("abort", onClientAbort);
      res = new Response(null, init);
    } else {
      if (completed) {
        const deadlines = this.#bodyDeadlines;
        const deadline = deadlines.add(() =>
          controller.abort(new UpstreamTimeout(this.#o.bodyTimeoutMs))
        );
        const done = () => {
          deadlines.cancel(deadline);
          req.signal.removeEventListener("abort", onClientAbort);
        };
        completed.then(done, done);
      } else {
        req.signal.removeEventListener("abort", onClientAbort);
      }
      res = new Response(upstream.body, init);
    }
    const headers = res.headers;
    stripResponseHops(upstream.headers, headers);
    headers.set("x-upstream-region", target.name);
    return res;
  }
}

/** A request body that can be sent once or, when buffered, again on failover. */
interface PreparedBody {
  replayable: boolean;
  take(): BodyInit | null;
  /** True when a streamed body passed the size limit (the attempt failed because of it). */
  exceeded(): boolean;
}

const NEVER_EXCEEDED = () => false;
/** The body of a GET, HEAD or bodiless request: nothing to send, any number of times. */
const NO_BODY: PreparedBody = { replayable: true, take: () => null, exceeded: NEVER_EXCEEDED };

async function prepareBody(
  req: Request,
  method: string,
  retryLimit: number,
  maxBytes = Infinity,
): Promise<PreparedBody> {
  if (method === "GET" || method === "HEAD" || req.body === null) return NO_BODY;
  const length = req.headers.get("content-length");
  const declared = length === null ? NaN : Number(length);
  if (declared > maxBytes) {
    throw new HttpError(413, `Request body larger than ${maxBytes} bytes`, {
      code: "body_too_large",
    });
  }
  if (IDEMPOTENT.has(method) && declared >= 0 && declared <= retryLimit) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await req.arrayBuffer());
    } catch (error) {
      throw new HttpError(400, `Could not read the request body: ${describe(error)}`, {
        code: "unreadable_body",
      });
    }
    return { replayable: true, take: () => bytes as BodyInit, exceeded: NEVER_EXCEEDED };
  }
  // A declared length is enforced by HTTP framing; only a chunked body needs counting.
  let stream: ReadableStream<Uint8Array> = req.body;
  let over = false;
  if (!(declared >= 0) && maxBytes !== Infinity) {
    let seen = 0;
    stream = req.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > maxBytes) {
            over = true;
            controller.error(new RangeError(`Request body larger than ${maxBytes} bytes`));
          } else controller.enqueue(chunk);
        },
      }),
    );
  }
  let used = false;
  return {
    replayable: false,
    take() {
      if (used) throw new Error("A streamed body cannot be sent twice");
      used = true;
      return stream;
    },
    exceeded: () => over,
  };
}

function pathOnly(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf("?");
  return q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`.slice(0, 300);
  }
  return String(error).slice(0, 300);
}

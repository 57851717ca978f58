/**
 * Recording one request, on the hot path: counters and histograms resolved once per (route
 * group, cache outcome, status class) and kept in flat arrays indexed by arithmetic, so a
 * request costs a few array reads and adds, no label objects and no map lookups (except the
 * upstream region of a proxied request).
 */

import type { EdgeRequestContext } from "../../core/request.ts";
import type { LatencyHistogram } from "../../core/histogram.ts";
import type { BoundCounter, Counter, Histogram, MetricsRegistry } from "../../core/metrics.ts";
import { EDGE_ROUTE, ROUTE_GROUPS } from "../../platform/http/route_group.ts";
import { Field, type SlidingWindow } from "./window.ts";

/** Cache outcomes as label values, by index (0: no cache involved). */
export const CACHE_OUTCOMES = [
  "none",
  "HIT",
  "MISS",
  "STALE",
  "REVALIDATED",
  "EXPIRED",
  "BYPASS",
] as const;
const CACHE_INDEX: Record<string, number> = {
  HIT: 1,
  MISS: 2,
  STALE: 3,
  REVALIDATED: 4,
  EXPIRED: 5,
  BYPASS: 6,
};
const CACHE_FIELD = [
  0,
  1 << Field.cacheHit,
  1 << Field.cacheMiss,
  1 << Field.cacheStale,
  1 << Field.cacheRevalidated,
  1 << Field.cacheExpired,
  1 << Field.cacheBypass,
];
const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;
const DENIED = ["401", "403", "429"] as const;
const NC = CACHE_OUTCOMES.length;
const NS = CLASSES.length;

/** Where a 5xx came from, by index: the edge itself, an origin, or a user's function. */
const ERROR_SOURCES = ["edge", "origin", "function"] as const;

/** True when a 5xx was made by the edge rather than passed through from an origin or cache. */
function edgeCaused(ctx: EdgeRequestContext): boolean {
  return ctx.problem !== undefined ||
    (ctx.upstream === undefined && ctx.cacheOutcome === undefined);
}

/** Options for {@linkcode RequestRecorder}. */
export interface RecorderOptions {
  metrics: MetricsRegistry;
  region: string;
  window: SlidingWindow;
  /** Wall-clock time for the window (the injected clock). */
  now: () => number;
  /** What the window counts as latency (see `metrics.health.latency`); default `total`. */
  windowLatency?: "total" | "edge";
}

/** Records every request into the registry and the sliding window. */
export class RequestRecorder {
  readonly #region: string;
  readonly #window: SlidingWindow;
  readonly #now: () => number;
  readonly #edgeOnly: boolean;
  readonly #requests: Counter;
  readonly #errors: Counter;
  readonly #denied: Counter;
  readonly #latency: Histogram;
  readonly #origin: Histogram;
  readonly #requestCells: Array<BoundCounter | undefined>;
  readonly #errorCells: Array<BoundCounter | undefined>;
  readonly #deniedCells: Array<BoundCounter | undefined>;
  readonly #latencyCells: Array<LatencyHistogram | undefined>;
  readonly #originCells = new Map<string, LatencyHistogram>();

  constructor(options: RecorderOptions) {
    const { metrics } = options;
    this.#region = options.region;
    this.#window = options.window;
    this.#now = options.now;
    this.#edgeOnly = options.windowLatency === "edge";
    this.#requests = metrics.counter(
      "outpost_http_requests_total",
      "Requests answered, by route group, cache outcome and status class",
    );
    this.#errors = metrics.counter(
      "outpost_http_server_errors_total",
      "5xx answers, by route group and source (edge: made by the edge; origin: passed " +
        "through; function: a user's function failed)",
    );
    this.#denied = metrics.counter(
      "outpost_http_denied_total",
      "401, 403 and 429 answers, by route group and status",
    );
    this.#latency = metrics.histogram(
      "outpost_http_request_duration_seconds",
      "Time from request to response headers, by route group and cache outcome",
    );
    this.#origin = metrics.histogram(
      "outpost_origin_response_duration_seconds",
      "Time to the answering origin's response headers, by upstream region",
    );
    const routes = ROUTE_GROUPS.length;
    this.#requestCells = new Array(routes * NC * NS);
    this.#errorCells = new Array(routes * ERROR_SOURCES.length);
    this.#deniedCells = new Array(routes * DENIED.length);
    this.#latencyCells = new Array(routes * NC);
  }

  /** Records one answered request: `route` from `routeGroupOf`, `ms` its latency. */
  record(route: number, status: number, ctx: EdgeRequestContext, ms: number): void {
    const outcome = ctx.cacheOutcome;
    const cache = outcome === undefined ? 0 : (CACHE_INDEX[outcome] ?? 0);
    let cls = ((status / 100) | 0) - 1;
    if (cls < 0 || cls > 4) cls = cls < 0 ? 0 : 4;
    const rc = route * NC + cache;
    const ri = rc * NS + cls;
    (this.#requestCells[ri] ?? this.#requestCell(ri, route, cache, cls)).inc();
    (this.#latencyCells[rc] ?? this.#latencyCell(rc, route, cache)).record(ms);
    let fields = CACHE_FIELD[cache];
    if (cls === 4) {
      const source = ctx.functionFault === true ? 2 : edgeCaused(ctx) ? 0 : 1;
      const ei = route * ERROR_SOURCES.length + source;
      (this.#errorCells[ei] ?? this.#errorCell(ei, route, source)).inc();
      // A user's function failing is not the node failing: health does not count it.
      if (source !== 2) {
        fields |= (1 << Field.errors) |
          (source === 0 ? 1 << Field.edgeErrors : 1 << Field.originErrors);
      }
    } else if (cls === 3) {
      fields |= 1 << Field.status4xx;
      const d = status === 401 ? 0 : status === 403 ? 1 : status === 429 ? 2 : -1;
      if (d >= 0) {
        const di = route * 3 + d;
        (this.#deniedCells[di] ?? this.#deniedCell(di, route, d)).inc();
        fields |= 1 << (Field.status401 + d);
      }
    }
    const upstream = ctx.upstream;
    if (upstream !== undefined) {
      (this.#originCells.get(upstream.region) ?? this.#originCell(upstream.region))
        .record(upstream.ms);
    }
    // The node's own endpoints (health checks, scrapes, the dashboard) stay out of the window
    // that decides its health.
    if (route === EDGE_ROUTE) return;
    // In `edge` mode the window leaves out the time spent waiting for origins; the histograms
    // above keep what the client waited.
    const own = this.#edgeOnly ? Math.max(0, ms - ctx.originWaitMs) : ms;
    this.#window.record(this.#now(), own, fields);
  }

  #requestCell(i: number, route: number, cache: number, cls: number): BoundCounter {
    return this.#requestCells[i] = this.#requests.bind({
      region: this.#region,
      route: ROUTE_GROUPS[route],
      cache: CACHE_OUTCOMES[cache],
      status: CLASSES[cls],
    });
  }

  #latencyCell(i: number, route: number, cache: number): LatencyHistogram {
    return this.#latencyCells[i] = this.#latency.series({
      region: this.#region,
      route: ROUTE_GROUPS[route],
      cache: CACHE_OUTCOMES[cache],
    });
  }

  #errorCell(i: number, route: number, source: number): BoundCounter {
    return this.#errorCells[i] = this.#errors.bind({
      region: this.#region,
      route: ROUTE_GROUPS[route],
      source: ERROR_SOURCES[source],
    });
  }

  #deniedCell(i: number, route: number, d: number): BoundCounter {
    return this.#deniedCells[i] = this.#denied.bind({
      region: this.#region,
      route: ROUTE_GROUPS[route],
      status: DENIED[d],
    });
  }

  #originCell(upstream: string): LatencyHistogram {
    const h = this.#origin.series({ region: this.#region, upstream });
    this.#originCells.set(upstream, h);
    return h;
  }
}

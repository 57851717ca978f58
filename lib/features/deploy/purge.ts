/**
 * Purging Deno Deploy's CDN: its invalidation API takes tags, at most 500 per request, as
 * `POST http://cache.localhost/invalidate/http` with `{"tags": [...]}` from inside the app, and
 * propagates to every region (https://docs.deno.com/deploy/reference/caching). A URL is purged
 * through the tag every answer for its path carries ({@linkcode pathTag}). A failed purge is
 * logged, counted, and kept in health until a later purge succeeds.
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { HealthConditions } from "../../core/conditions.ts";
import type { Counter, MetricsRegistry } from "../../core/metrics.ts";
import { MAX_DENO_TAGS } from "./cdn.ts";

/** The health condition raised while the last platform purge failed. */
const CDN_PURGE_CONDITION = "deno_cdn.purge";

/** What a platform purge did. */
export type CdnPurgeResult =
  | { ok: true; tags: number; requests: number }
  | { ok: false; tags: number; reason: string };

/** Options for {@linkcode DenoCdnPurger}. */
export interface DenoCdnPurgerOptions {
  /** The invalidation endpoint. */
  url: string;
  fetch: typeof fetch;
  timeoutMs: number;
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  conditions: HealthConditions;
}

/** Sends tag invalidations to the platform's CDN. */
export class DenoCdnPurger {
  readonly #o: DenoCdnPurgerOptions;
  readonly #purges: Counter;

  constructor(options: DenoCdnPurgerOptions) {
    this.#o = options;
    this.#purges = options.metrics.counter(
      "outpost_deno_cdn_purges_total",
      "Invalidation requests sent to Deno Deploy's CDN, by outcome (ok, failed)",
    );
  }

  /** Purges `tags` (deduplicated, in batches of 500); every batch must be acknowledged. */
  async purge(tags: readonly string[]): Promise<CdnPurgeResult> {
    const unique = [...new Set(tags)];
    if (unique.length === 0) return { ok: true, tags: 0, requests: 0 };
    let requests = 0;
    for (let i = 0; i < unique.length; i += MAX_DENO_TAGS) {
      const batch = unique.slice(i, i + MAX_DENO_TAGS);
      const failure = await this.#send(batch);
      requests++;
      if (failure !== null) {
        this.#purges.inc({ outcome: "failed" });
        const at = new Date(this.#o.clock.now()).toISOString();
        this.#o.conditions.raise(
          CDN_PURGE_CONDITION,
          "degraded",
          `the last purge of Deno Deploy's CDN failed at ${at} (${failure}): its copies may be ` +
            "served until they expire; repeat the purge",
        );
        this.#o.log.error("deno cdn purge failed", {
          reason: failure,
          tags: unique.length,
          batch: requests,
        });
        return { ok: false, tags: unique.length, reason: failure };
      }
      this.#purges.inc({ outcome: "ok" });
    }
    this.#o.conditions.clear(CDN_PURGE_CONDITION);
    return { ok: true, tags: unique.length, requests };
  }

  /** One invalidation request: null when acknowledged (2xx), else why not (no addresses). */
  async #send(tags: string[]): Promise<string | null> {
    const signal = AbortSignal.timeout(this.#o.timeoutMs);
    try {
      const res = await this.#o.fetch(this.#o.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ tags }),
        signal,
      });
      await res.body?.cancel();
      return res.ok ? null : `status ${res.status}`;
    } catch (error) {
      if (signal.aborted) return `no answer within ${this.#o.timeoutMs} ms`;
      return `unreachable: ${error instanceof Error ? error.name : "error"}`;
    }
  }
}

/**
 * Is the platform's default KV really a shared database? On Deno Deploy without an assigned
 * database, `Deno.openKv()` may give each isolate a temporary in-memory store of its own
 * (denoland/deploy_feedback#905) that nothing in one isolate can tell from a new database. What
 * can be told: a marker any earlier node left, or another node's KV probe appearing. Until one
 * of them is seen, health is degraded with the reason.
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { HealthConditions } from "../../core/conditions.ts";
import { kvProbePrefix } from "../monitoring/keys.ts";
import { kvMarkerKey } from "./keys.ts";

/** The health condition raised while the database may be this isolate's alone. */
const SHARED_KV_CONDITION = "kv.shared";

/** Options for {@linkcode SharedKvProbe}. */
export interface SharedKvProbeOptions {
  kv: Deno.Kv;
  clock: Clock;
  conditions: HealthConditions;
  log: Logger;
  /** This node's id (its KV probe key names it). */
  nodeId: string;
}

/** Watches for evidence that the default KV is shared. */
export class SharedKvProbe {
  readonly #o: SharedKvProbeOptions;
  #settled = false;

  constructor(options: SharedKvProbeOptions) {
    this.#o = options;
  }

  /** True once the store is known to be shared (or to have outlived a node). */
  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Reads the marker (strongly): present, the store is shared; absent, this node writes it and
   * health stays degraded until another node shows up. Throws on KV failures (the caller retries).
   */
  async start(): Promise<void> {
    const { kv, clock, conditions, log } = this.#o;
    const marker = await kv.get(kvMarkerKey());
    if (marker.value !== null) {
      this.#settle();
      return;
    }
    await kv.set(kvMarkerKey(), { at: clock.now(), by: this.#o.nodeId });
    conditions.raise(
      SHARED_KV_CONDITION,
      "degraded",
      "the KV database was empty when this node started: either it is new, or no KV database " +
        "is assigned and this isolate has a temporary store of its own (not kept, not shared); " +
        "on Deno Deploy assign one in the dashboard (docs/deploy.md)",
    );
    log.warn("the platform KV looked empty at start-up; is a KV database assigned?");
  }

  /** One check (a job): another node's KV probe settles it. Throws on KV failures. */
  async check(): Promise<void> {
    if (this.#settled) return;
    for await (const entry of this.#o.kv.list({ prefix: kvProbePrefix() }, { limit: 100 })) {
      if (entry.key[3] !== this.#o.nodeId) {
        this.#settle();
        return;
      }
    }
  }

  #settle(): void {
    this.#settled = true;
    this.#o.conditions.clear(SHARED_KV_CONDITION);
  }
}

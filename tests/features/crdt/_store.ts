/** Builds a CrdtStore over a KV for tests. */

import { ManualClock } from "../../../lib/core/clock.ts";
import { silentLogger } from "../../../lib/core/log.ts";
import { MetricsRegistry } from "../../../lib/core/metrics.ts";
import { CrdtStore } from "../../../lib/features/crdt/store.ts";

/** A store for `replica` on `kv` with generous limits. */
export function makeStore(
  kv: Deno.Kv,
  replica: string,
  options: {
    clock?: ManualClock;
    maxSetElements?: number;
    metrics?: MetricsRegistry;
  } = {},
): CrdtStore {
  return new CrdtStore({
    kv,
    clock: options.clock ?? new ManualClock(),
    identity: { replica, kvId: "000000000000" },
    limits: {
      maxStep: 1_000_000,
      maxSetElements: options.maxSetElements ?? 100_000,
      maxRegisterBytes: 16_384,
    },
    logRetentionMs: 3_600_000,
    maxClockDriftMs: 60_000,
    metrics: options.metrics ?? new MetricsRegistry(),
    log: silentLogger,
  });
}

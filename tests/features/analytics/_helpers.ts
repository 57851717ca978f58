/** Fixtures for the analytics tests: a store + outbox on `:memory:` KV with a manual clock. */

import { ManualClock } from "../../../lib/core/clock.ts";
import type { AnalyticsEvent, EventLimits } from "../../../lib/features/analytics/event_schema.ts";
import { Outbox } from "../../../lib/features/analytics/outbox.ts";
import { EventStore } from "../../../lib/features/analytics/store.ts";

/** The edge id the fixtures use. */
export const EDGE = "us-east/main";
/** A 60-second interval. */
export const INTERVAL_MS = 60_000;
/** 2026-01-01T00:00:00Z, an interval boundary. */
export const T0 = Date.UTC(2026, 0, 1);

/** Default limits for validation tests. */
export function makeLimits(overrides: Partial<EventLimits> = {}): EventLimits {
  return {
    maxBatchEvents: 100,
    maxFutureMs: 300_000,
    retentionMs: 24 * 3_600_000,
    properties: { maxBytes: 4096, maxDepth: 4, maxKeys: 64 },
    ...overrides,
  };
}

/** An event at `ts`. */
export function makeEvent(user: string, type: string, ts: number): AnalyticsEvent {
  return { user_id: user, event_type: type, timestamp: ts };
}

/** A store and outbox sharing one `:memory:` KV and a manual clock at `T0 + 1 s`. */
export interface Fixture extends AsyncDisposable {
  kv: Deno.Kv;
  clock: ManualClock;
  store: EventStore;
  outbox: Outbox;
}

/** Builds a {@linkcode Fixture}. */
export async function makeFixture(kv?: Deno.Kv): Promise<Fixture> {
  const db = kv ?? await Deno.openKv(":memory:");
  const clock = new ManualClock(T0 + 1000);
  const store = new EventStore({
    kv: db,
    edgeId: EDGE,
    clock,
    intervalMs: INTERVAL_MS,
    retentionMs: 24 * 3_600_000,
  });
  const outbox = new Outbox({ kv: db, edgeId: EDGE, clock, intervalMs: INTERVAL_MS });
  return {
    kv: db,
    clock,
    store,
    outbox,
    [Symbol.asyncDispose]: () => Promise.resolve(kv ? undefined : db.close()),
  };
}

/** An edge with a cache in front of a demo origin, sharing one manual clock. */

import { ManualClock } from "../../../lib/core/clock.ts";
import type { EdgeConfigInput } from "../../../lib/core/config.ts";
import {
  makeConfig,
  startEdge,
  startOrigin,
  type TestEdge,
  type TestOrigin,
} from "../../helpers.ts";

/** The pieces of a cache test. */
export interface CacheSetup extends AsyncDisposable {
  origin: TestOrigin;
  e: TestEdge;
  clock: ManualClock;
  /** GETs a path on the edge and reads the body as text. */
  get(path: string, init?: RequestInit): Promise<{ res: Response; text: string }>;
  /** Waits for background revalidations and KV writes. */
  settled(): Promise<void>;
}

/** Starts a demo origin and an edge in front of it (extra deps such as a shared `kv` allowed). */
export async function cacheSetup(
  overrides: Partial<EdgeConfigInput> = {},
  deps: { kv?: Deno.Kv; clock?: ManualClock; origin?: TestOrigin; adminToken?: string } = {},
): Promise<CacheSetup> {
  // Whole seconds, so ages computed from the origin's Date header come out exact.
  const clock = deps.clock ?? new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  const origin = deps.origin ?? startOrigin("demo", clock);
  const env: Record<string, string> = deps.adminToken ? { ADMIN_TOKEN: deps.adminToken } : {};
  const e = await startEdge(makeConfig(origin.url, { experiments: [], ...overrides }, env), {
    clock,
    kv: deps.kv,
  });
  return {
    origin,
    e,
    clock,
    async get(path, init) {
      const res = await fetch(`${e.url}${path}`, init);
      return { res, text: await res.text() };
    },
    settled: () => e.edge.cache!.settled(),
    async [Symbol.asyncDispose]() {
      await e[Symbol.asyncDispose]();
      if (!deps.origin) await origin[Symbol.asyncDispose]();
    },
  };
}

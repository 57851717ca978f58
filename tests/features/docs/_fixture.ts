/** An in-process edge (no port) with its OpenAPI document, for the API docs tests. */

import { type AppDeps, createApp, type Edge } from "../../../lib/core/app.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import type { EdgeConfig, EdgeConfigInput } from "../../../lib/core/config.ts";
import { deadOrigin, makeConfig } from "../../helpers.ts";

/** 2026-01-01T00:00:00Z. */
export const T0 = Date.UTC(2026, 0, 1);
/** A collector token long enough for config. */
export const CENTRAL_TOKEN = "central-token-for-openapi-tests";
/** The admin token of every test edge (`POST /_edge/purge`). */
export const ADMIN_TOKEN = "admin-token-for-openapi-tests";
/** The sync token, when a test passes it as `SYNC_TOKEN`. */
export const SYNC_TOKEN = "sync-token-for-openapi-tests";

/** An edge answering in-process, its document and a way to call it. */
export interface DocEdge extends AsyncDisposable {
  edge: Edge;
  config: EdgeConfig;
  clock: ManualClock;
  /** Calls the edge's `fetch` with a path on `http://edge.test`. */
  call(path: string, init?: RequestInit): Promise<Response>;
  /** `GET /_edge/openapi.json`, parsed. */
  document(): Promise<Record<string, unknown>>;
}

/**
 * Builds an edge from `makeConfig` overrides (authorization off unless given); `deps` adds to
 * what `createApp` gets (users' functions).
 */
export async function docEdge(
  overrides: Partial<EdgeConfigInput> = {},
  env: Record<string, string> = {},
  deps: Partial<AppDeps> = {},
): Promise<DocEdge> {
  const config = makeConfig(deadOrigin(), overrides, { ADMIN_TOKEN, ...env });
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(T0);
  const edge = createApp({ ...deps, config, kv, clock });
  const call = async (path: string, init?: RequestInit) =>
    await edge.fetch(new Request(`http://edge.test${path}`, init));
  return {
    edge,
    config,
    clock,
    call,
    async document() {
      const res = await call("/_edge/openapi.json");
      if (res.status !== 200) throw new Error(`openapi.json answered ${res.status}`);
      return await res.json();
    },
    async [Symbol.asyncDispose]() {
      await edge.close();
      kv.close();
    },
  };
}

/** The configurations the document is checked under. */
export const CONFIGS: Record<string, Partial<EdgeConfigInput>> = {
  "role both, authz, cache": { authz: { enabled: true } },
  "role edge, no cache, no analytics": {
    role: "edge",
    cache: { enabled: false },
    analytics: { enabled: false, centralToken: CENTRAL_TOKEN },
  },
  "role central, anonymous allowed": {
    role: "central",
    analytics: { centralToken: CENTRAL_TOKEN },
    authz: { enabled: true, allowAnonymous: true },
  },
};

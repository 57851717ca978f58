/** Mounts the edge data routes: `/items`, `/crdt` and `/_edge/sync`. */

import type { Hono } from "hono";
import type { AppEnv } from "../lib/core/request.ts";
import type { EdgeConfig } from "../lib/core/config.ts";
import type { Logger } from "../lib/core/log.ts";
import type { MetricsRegistry } from "../lib/core/metrics.ts";
import type { EdgeData } from "../lib/features/crdt/feature.ts";
import { crdtRoutes } from "../lib/features/crdt/routes.ts";
import { itemRoutes } from "../lib/features/items/routes.ts";
import { syncRoutes } from "../lib/features/crdt/sync/routes.ts";

/** Adds the data routes to the main app and to the `/_edge` app. */
export function mountDataRoutes(
  apps: { main: Hono<AppEnv>; edge: Hono<AppEnv> },
  data: EdgeData,
  deps: { config: EdgeConfig; log: Logger; metrics: MetricsRegistry },
): void {
  const { config } = deps;
  apps.main.route(
    "/items",
    itemRoutes({
      items: data.items,
      schema: data.itemSchema,
      maxBodyBytes: config.data.maxBodyBytes,
    }),
  );
  apps.main.route(
    "/crdt",
    crdtRoutes({
      store: data.crdt,
      maxStep: config.crdt.maxStep,
      maxRegisterBytes: config.crdt.maxRegisterBytes,
    }),
  );
  apps.edge.route(
    "/sync",
    syncRoutes({
      store: data.crdt,
      engine: data.sync,
      token: config.sync.token,
      maxBodyBytes: config.sync.maxBodyBytes,
      maxRegisterBytes: config.crdt.maxRegisterBytes,
      log: deps.log,
      metrics: deps.metrics,
    }),
  );
}

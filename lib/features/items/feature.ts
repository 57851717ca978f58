/**
 * The items feature: items read from the edge's memory, written to the central copy
 * in KV, with a change feed that keeps every node within `data.maxStalenessMs` of the last write.
 */

import { Hono } from "hono";
import type { z } from "zod";
import type { Feature } from "../../core/feature.ts";
import type { AppEnv } from "../../core/request.ts";
import { ITEMS_CONFIG, type ITEMS_FIELDS } from "./config.ts";
import { ITEM_SCHEMAS } from "./item_schema.ts";
import { Items } from "./items.ts";
import { itemRoutes } from "./routes.ts";

/** What the items feature offers later features. */
export interface ItemsApi {
  items: Items;
  /** The schema item bodies must match. */
  itemSchema: z.ZodType;
}

declare module "../../core/feature.ts" {
  interface FeatureApis {
    items: ItemsApi;
  }
  interface FeatureInputs {
    /** Overrides `data.itemSchema` with any zod schema for item bodies. */
    itemSchema?: z.ZodType;
  }
}

/** The feature's registration. */
export const itemsFeature: Feature<"items", typeof ITEMS_FIELDS> = {
  name: "items",
  config: ITEMS_CONFIG,
  create(svc, cfg) {
    const { data } = cfg;
    const items = new Items({
      kv: svc.kv,
      clock: svc.clock,
      log: svc.log.child({ area: "data" }),
      metrics: svc.metrics,
      maxStalenessMs: data.maxStalenessMs,
      changeRetentionMs: data.changeRetentionMs,
      cacheMaxEntries: data.cacheMaxEntries,
      cacheMaxBytes: data.cacheMaxBytes,
    });
    const itemSchema = svc.inputs.itemSchema ?? ITEM_SCHEMAS[data.itemSchema];
    const routes = new Hono<AppEnv>();
    routes.route(
      "/items",
      itemRoutes({ items, schema: itemSchema, maxBodyBytes: data.maxBodyBytes }),
    );
    return {
      api: { items, itemSchema },
      routes,
      jobs: [
        // Ticks at the fallback interval; polls only while the watch is down or the safety net
        // is due.
        {
          name: "items-changes",
          intervalMs: data.pollIntervalMs,
          maxBackoffMs: data.maxStalenessMs,
          run: () => items.feed.poll(data.watchedPollIntervalMs),
        },
        {
          name: "items-trim",
          intervalMs: 60_000,
          run: () => items.store.trimChanges().then(() => {}),
        },
      ],
      // The item watch (the jobs start with the other jobs).
      start: () => items.feed.start(),
      close: () => items.feed.stop(),
    };
  },
};

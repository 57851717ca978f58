/** The `data` section: items read from the edge's memory, written to the central copy in KV. */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";

/** Items (read at the edge, written to the center): their schema, size, staleness bound and memory cache. */
export const DataConfigSchema = z.object({
  /** Which schema PUT bodies must match: any JSON, a JSON object, or a flat object. */
  itemSchema: z.enum(["json", "object", "flat-object"]).default("json"),
  /** Largest item body; items over 60 KiB are stored in chunks. */
  maxBodyBytes: z.number().int().min(16).max(512 * 1024).default(64 * 1024),
  /** No node serves a cached item older than the last write for longer than this. */
  maxStalenessMs: z.number().int().min(100).max(3_600_000).default(2000),
  /** The polling fallback while `kv.watch` is not delivering; at most half of `maxStalenessMs`. */
  pollIntervalMs: z.number().int().min(20).max(1_800_000).default(500),
  /** How often changes are polled anyway while `kv.watch` delivers (a safety net). */
  watchedPollIntervalMs: z.number().int().min(20).max(3_600_000).default(30_000),
  cacheMaxEntries: z.number().int().min(1).max(10_000_000).default(10_000),
  cacheMaxBytes: z.number().int().min(1024).max(4 * 1024 ** 3).default(32 * 1024 ** 2),
  /** How long change records are kept (they are a trigger, not the data). */
  changeRetentionMs: z.number().int().min(10_000).max(7 * 86_400_000).default(600_000),
}).refine((d) => d.pollIntervalMs * 2 <= d.maxStalenessMs, {
  path: ["pollIntervalMs"],
  message: "Must be at most half of data.maxStalenessMs",
}).prefault({});

/** The validated `data` section. */
export type DataConfig = z.infer<typeof DataConfigSchema>;

/** The fields this feature owns. */
export const ITEMS_FIELDS = { data: DataConfigSchema };

/** Environment variables of this feature, and the config field each sets. */
export const ITEMS_ENV: EnvTable = {
  ITEMS_MAX_STALENESS_MS: { path: "data.maxStalenessMs", kind: "int" },
};

/** How the loader reads them. */
export const ITEMS_CONFIG: FeatureConfig<typeof ITEMS_FIELDS> = {
  fields: ITEMS_FIELDS,
  env: ITEMS_ENV,
};

/**
 * Every feature of the node, in order: their config sections are read in this order, and they
 * are built, mounted and (in reverse) closed in this order. Adding a feature is one line here.
 *
 * Each line names the feature's config section (imported: the config loader needs every section
 * to validate the config) and loads its implementation with `import()` (lib/core/features.ts
 * awaits them all), so main.ts can read the config, open KV and compile the authorization module
 * while the features' modules load (docs/cold_start.md).
 */

import type { ConfigFields, FeatureConfig } from "./feature.ts";
import { AB_CONFIG } from "../features/ab/config.ts";
import { ANALYTICS_CONFIG } from "../features/analytics/config.ts";
import { AUTHZ_CONFIG } from "../features/authz/config.ts";
import { CACHE_CONFIG } from "../features/cache/config.ts";
import { CRDT_CONFIG } from "../features/crdt/config.ts";
import { PLATFORM_CONFIG } from "../features/deploy/config.ts";
import { DOCS_CONFIG } from "../features/docs/config.ts";
import { FUNCTIONS_CONFIG } from "../features/functions/config.ts";
import { GEO_CONFIG } from "../features/geo/config.ts";
import { ITEMS_CONFIG } from "../features/items/config.ts";
import { MONITORING_CONFIG } from "../features/monitoring/config.ts";
import { PROXY_CONFIG } from "../features/proxy/config.ts";
import { WEBSOCKET_CONFIG } from "../features/websocket/config.ts";

/**
 * A feature's line: its name, its config section, and how its implementation is loaded (typed
 * `unknown` here: the feature's type refers to the whole config, which is derived from this
 * list; lib/core/features.ts checks that it is the feature of that name and config).
 */
export interface FeatureEntry<N extends string, F extends ConfigFields> {
  name: N;
  config: FeatureConfig<F>;
  load(): Promise<unknown>;
}

function entry<N extends string, F extends ConfigFields>(
  name: N,
  config: FeatureConfig<F>,
  load: () => Promise<unknown>,
): FeatureEntry<N, F> {
  return { name, config, load };
}

/**
 * The features, in order. A feature may use the apis of those before it while it is built; its
 * stages run in their phase in this order, its routes are mounted in this order.
 */
export const FEATURES = [
  entry("geo", GEO_CONFIG, async () => (await import("../features/geo/feature.ts")).geoFeature),
  entry(
    "deploy",
    PLATFORM_CONFIG,
    async () => (await import("../features/deploy/feature.ts")).deployFeature,
  ),
  entry(
    "proxy",
    PROXY_CONFIG,
    async () => (await import("../features/proxy/feature.ts")).proxyFeature,
  ),
  entry("ab", AB_CONFIG, async () => (await import("../features/ab/feature.ts")).abFeature),
  entry(
    "websocket",
    WEBSOCKET_CONFIG,
    async () => (await import("../features/websocket/feature.ts")).websocketFeature,
  ),
  entry(
    "authz",
    AUTHZ_CONFIG,
    async () => (await import("../features/authz/feature.ts")).authzFeature,
  ),
  entry(
    "monitoring",
    MONITORING_CONFIG,
    async () => (await import("../features/monitoring/feature.ts")).monitoringFeature,
  ),
  entry(
    "cache",
    CACHE_CONFIG,
    async () => (await import("../features/cache/feature.ts")).cacheFeature,
  ),
  entry(
    "analytics",
    ANALYTICS_CONFIG,
    async () => (await import("../features/analytics/feature.ts")).analyticsFeature,
  ),
  entry(
    "items",
    ITEMS_CONFIG,
    async () => (await import("../features/items/feature.ts")).itemsFeature,
  ),
  entry("crdt", CRDT_CONFIG, async () => (await import("../features/crdt/feature.ts")).crdtFeature),
  entry(
    "functions",
    FUNCTIONS_CONFIG,
    async () => (await import("../features/functions/feature.ts")).functionsFeature,
  ),
  entry("docs", DOCS_CONFIG, async () => (await import("../features/docs/feature.ts")).docsFeature),
] as const;

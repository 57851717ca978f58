/**
 * Every feature of the node, in order: their config sections are read in this order, and they
 * are built, mounted and (in reverse) closed in this order. Adding a feature is one line here.
 */

import { abFeature } from "../features/ab/feature.ts";
import { analyticsFeature } from "../features/analytics/feature.ts";
import { authzFeature } from "../features/authz/feature.ts";
import { cacheFeature } from "../features/cache/feature.ts";
import { crdtFeature } from "../features/crdt/feature.ts";
import { deployFeature } from "../features/deploy/feature.ts";
import { docsFeature } from "../features/docs/feature.ts";
import { functionsFeature } from "../features/functions/feature.ts";
import { geoFeature } from "../features/geo/feature.ts";
import { itemsFeature } from "../features/items/feature.ts";
import { monitoringFeature } from "../features/monitoring/feature.ts";
import { proxyFeature } from "../features/proxy/feature.ts";
import { websocketFeature } from "../features/websocket/feature.ts";

/**
 * The features, in order. A feature may use the apis of those before it while it is built; its
 * stages run in their phase in this order, its routes are mounted in this order.
 */
export const FEATURES = [
  geoFeature,
  deployFeature,
  proxyFeature,
  abFeature,
  websocketFeature,
  authzFeature,
  monitoringFeature,
  cacheFeature,
  analyticsFeature,
  itemsFeature,
  crdtFeature,
  functionsFeature,
  docsFeature,
] as const;

/**
 * Every feature of the node, in order: their config sections are read in this order, and they
 * are built, mounted and closed (in reverse) in this order. Adding a feature is one line here.
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

/** The features, in order. */
export const FEATURES = [
  geoFeature,
  proxyFeature,
  cacheFeature,
  abFeature,
  itemsFeature,
  crdtFeature,
  analyticsFeature,
  authzFeature,
  monitoringFeature,
  docsFeature,
  functionsFeature,
  websocketFeature,
  deployFeature,
] as const;

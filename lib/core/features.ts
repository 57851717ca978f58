/**
 * The features' implementations, in registry order. Loaded with `import()` by the registry's
 * lines and awaited here (top-level await): importing this module (lib/core/app.ts does) waits
 * for all of them, so `createApp` stays synchronous while main.ts overlaps their loading with
 * reading the config and opening KV.
 */

import type { Feature } from "./feature.ts";
import { FEATURES } from "./registry.ts";

const loaded = (await Promise.all(FEATURES.map((entry) => entry.load()))) as Feature<string>[];
for (const [i, feature] of loaded.entries()) {
  // The registry's line and the feature's own registration must agree.
  const entry = FEATURES[i];
  if (feature?.name !== entry.name || feature.config !== entry.config) {
    throw new Error(`lib/core/registry.ts: the line for ${entry.name} loads ${feature?.name}`);
  }
}

/** Every feature's implementation, in registry order. */
export const FEATURE_IMPLEMENTATIONS: ReadonlyArray<Feature<string>> = loaded;

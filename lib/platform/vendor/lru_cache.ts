/**
 * `lru-cache`'s `LRUCache`, from the copy of its browser build in lru_cache.gen.js (the Node build
 * Deno resolves imports `node:diagnostics_channel`, which loads the Node compatibility layer at
 * start-up; see tools/build_vendor.ts), typed by the package's own declarations.
 */

import type { LRUCache as Typed } from "lru-cache";
import { LRUCache as Built } from "./lru_cache.gen.js";

/** See the `lru-cache` package. */
export const LRUCache = Built as unknown as typeof Typed;
/** See the `lru-cache` package. */
export type LRUCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>, FC = unknown> =
  Typed<K, V, FC>;

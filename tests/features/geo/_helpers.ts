/** Fixtures and small assertions shared by the geo tests. */

import assert from "node:assert/strict";
import type { Region } from "../../../lib/core/fields.ts";
import { DEFAULT_REGIONS } from "../../../lib/core/fields.ts";

/** Asserts `|actual - expected| <= tolerance`. */
export function assertNear(actual: number, expected: number, tolerance: number): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `Expected ${actual} to be within ${tolerance} of ${expected}`,
  );
}

/** A region at a point, with a placeholder origin. */
export function makeRegion(name: string, lat: number, lon: number): Region {
  return { name, lat, lon, origin: `http://${name}.test` };
}

/** The article's four regions (us-west, us-east, eu-west, ap-southeast) with origins. */
export function makeRegions(): Region[] {
  return DEFAULT_REGIONS.map((r) => ({ ...r, origin: `http://${r.name}.test` }));
}

/**
 * Extracts every country's centroid (ISO 3166-1 alpha-2 → lat/lon) from the `world-countries`
 * data set into lib/features/geo/centroids.json, which the edge imports: the package is 1.4 MB of JSON
 * behind a CommonJS entry, too much to load on every cold start for 250 pairs of numbers. The
 * table is committed; a test rebuilds it and fails when it is stale.
 * Usage: deno run --allow-read --allow-write tools/build_centroids.ts [--check]
 */

import worldCountries from "world-countries";

/** Where the table is written. */
export const CENTROIDS_URL = new URL("../lib/features/geo/centroids.json", import.meta.url);

interface CountryRecord {
  cca2: unknown;
  latlng: unknown;
}

// The package is CommonJS re-exporting a JSON array; its types describe an ES default export, so
// the default import is typed as the namespace. Accept either shape at run time.
function countryRecords(): CountryRecord[] {
  const mod: unknown = worldCountries;
  const list = Array.isArray(mod) ? mod : (mod as { default?: unknown }).default;
  return Array.isArray(list) ? list : [];
}

/** Every valid `[code, lat, lon]` of the data set, in code order. */
export function buildCentroids(): Array<[string, number, number]> {
  const out = new Map<string, [string, number, number]>();
  for (const { cca2, latlng } of countryRecords()) {
    if (typeof cca2 !== "string" || !/^[A-Z]{2}$/.test(cca2) || !Array.isArray(latlng)) continue;
    const [lat, lon] = latlng;
    if (typeof lat !== "number" || !(lat >= -90 && lat <= 90)) continue;
    if (typeof lon !== "number" || !(lon >= -180 && lon <= 180)) continue;
    out.set(cca2, [cca2, lat, lon]);
  }
  return [...out.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** The committed file's text: `{ source, centroids: { CC: [lat, lon] } }`, one country a line. */
export function centroidsText(rows: Array<[string, number, number]>): string {
  const lines = rows.map(([cc, lat, lon]) => `    ${JSON.stringify(cc)}: [${lat}, ${lon}]`);
  return `{\n  "source": "world-countries (ODbL-1.0), cca2 and latlng",\n  "centroids": {\n${
    lines.join(",\n")
  }\n  }\n}\n`;
}

if (import.meta.main) {
  const text = centroidsText(buildCentroids());
  if (Deno.args.includes("--check")) {
    const current = await Deno.readTextFile(CENTROIDS_URL).catch(() => "");
    if (current !== text) {
      console.error("lib/features/geo/centroids.json is stale: run deno task centroids");
      Deno.exit(1);
    }
    console.log("country centroids are current");
  } else {
    await Deno.writeTextFile(CENTROIDS_URL, text);
    console.log(`wrote ${CENTROIDS_URL.pathname}`);
  }
}

import assert from "node:assert/strict";
import { countryCentroid, countryCentroids } from "../../../lib/features/geo/countries.ts";
import { buildCentroids, CENTROIDS_URL, centroidsText } from "../../../tools/build_centroids.ts";

Deno.test("countryCentroid() finds a country's centroid", async (t) => {
  await t.step("by upper- or lower-case code", () => {
    assert.deepEqual(countryCentroid("FR"), { lat: 46, lon: 2 });
    assert.deepEqual(countryCentroid("fr"), { lat: 46, lon: 2 });
    assert.deepEqual(countryCentroid("Us"), { lat: 38, lon: -97 });
  });
  await t.step("undefined for unknown, placeholder and malformed codes", () => {
    for (const cc of ["XX", "T1", "ZZ", "", "F", "FRA", " FR", "ſt", "１２"]) {
      assert.equal(countryCentroid(cc), undefined, cc);
    }
  });
});

Deno.test("countryCentroids() lists every country once, on the globe", () => {
  const all = countryCentroids();
  assert.ok(all.size >= 240, `only ${all.size} countries`);
  for (const [cc, { lat, lon }] of all) {
    assert.match(cc, /^[A-Z]{2}$/);
    assert.ok(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180, cc);
  }
  assert.ok(all.has("XK"), "Kosovo's user-assigned code is in world-countries and in the IP data");
});

Deno.test("the committed centroids.json is what world-countries gives", async () => {
  const built = centroidsText(buildCentroids());
  const committed = await Deno.readTextFile(CENTROIDS_URL);
  assert.ok(
    built === committed,
    "lib/features/geo/centroids.json is stale: run `deno task centroids` and commit it",
  );
  assert.equal(countryCentroids().size, buildCentroids().length);
});

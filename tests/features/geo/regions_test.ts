import assert from "node:assert/strict";
import fc from "fast-check";
import type { Region } from "../../../lib/core/fields.ts";
import { geodesicKm } from "../../../lib/features/geo/distance.ts";
import { RegionIndex } from "../../../lib/features/geo/regions.ts";
import { assertNear, makeRegion, makeRegions } from "./_helpers.ts";

const CITIES: ReadonlyArray<readonly [string, number, number, string]> = [
  ["Tokyo", 35.6762, 139.6503, "ap-southeast"],
  ["Paris", 48.8566, 2.3522, "eu-west"],
  ["Chicago", 41.8781, -87.6298, "us-east"],
  ["Los Angeles", 34.0522, -118.2437, "us-west"],
  ["São Paulo", -23.5505, -46.6333, "us-east"],
  ["Sydney", -33.8688, 151.2093, "ap-southeast"],
];

/** The answer by brute force: every geodesic, then the documented tie rule. */
function bruteNearest(regions: Region[], defaultName: string, lat: number, lon: number) {
  const km = regions.map((r) => geodesicKm(lat, lon, r.lat, r.lon));
  const min = Math.min(...km);
  const tied = regions.filter((_, i) => km[i] <= min + 0.001);
  const region = tied.find((r) => r.name === defaultName) ?? tied[0];
  return { region, distanceKm: km[regions.indexOf(region)] };
}

Deno.test("RegionIndex.nearest() picks the region nearest to each city", async (t) => {
  const index = new RegionIndex(makeRegions(), "us-east");
  for (const [city, lat, lon, expected] of CITIES) {
    await t.step(`${city} → ${expected}`, () => {
      const nearest = index.nearest(lat, lon);
      assert.equal(nearest.region.name, expected);
      assertNear(
        nearest.distanceKm,
        geodesicKm(lat, lon, nearest.region.lat, nearest.region.lon),
        1e-9,
      );
      assert.equal(index.ranked(lat, lon)[0].name, expected);
    });
  }
});

Deno.test("RegionIndex.nearest() breaks ties within 1 m by the documented rule", async (t) => {
  const west = makeRegion("west", 0, -10), east = makeRegion("east", 0, 10);
  const far = makeRegion("far", 60, 170);
  await t.step("the default region wins when it is tied", () => {
    assert.equal(new RegionIndex([west, east], "east").nearest(0, 0).region.name, "east");
    assert.equal(new RegionIndex([west, east], "west").nearest(30, 0).region.name, "west");
  });
  await t.step("else the region listed first wins", () => {
    assert.equal(new RegionIndex([west, east, far], "far").nearest(-45, 0).region.name, "west");
    assert.equal(new RegionIndex([east, west, far], "far").nearest(-45, 0).region.name, "east");
  });
  await t.step("north-south symmetry ties too", () => {
    const north = makeRegion("north", 10, 0), south = makeRegion("south", -10, 0);
    assert.equal(new RegionIndex([north, south], "south").nearest(0, 40).region.name, "south");
  });
  await t.step("less than 1 m apart is a tie; more is not", () => {
    const index = new RegionIndex([west, east], "west");
    assert.equal(index.nearest(0, 0.000001).region.name, "west"); // east nearer by 0.2 m
    assert.equal(index.nearest(0, 0.0001).region.name, "east"); // east nearer by 22 m
  });
  await t.step("ranked() puts tied regions in the same order", () => {
    const index = new RegionIndex([far, west, east], "east");
    assert.deepEqual(index.ranked(0, 0).map((r) => r.name), ["east", "west", "far"]);
    const noDefault = new RegionIndex([far, east, west], "far");
    assert.deepEqual(noDefault.ranked(0, 0).map((r) => r.name), ["east", "west", "far"]);
  });
});

const latArb = fc.double({ min: -90, max: 90, noNaN: true });
const lonArb = fc.double({ min: -180, max: 180, noNaN: true });
// Region sets: scattered, clustered (near-ties the sphere can't settle) and mirrored (exact ties).
const regionSetArb = fc.oneof(
  fc.array(fc.tuple(latArb, lonArb), { minLength: 1, maxLength: 8 }),
  fc.tuple(
    latArb,
    lonArb,
    fc.array(
      fc.tuple(
        fc.double({ min: -2, max: 2, noNaN: true }),
        fc.double({ min: -2, max: 2, noNaN: true }),
      ),
      { minLength: 1, maxLength: 6 },
    ),
  )
    .map(([lat, lon, offsets]) =>
      offsets.map(([dLat, dLon]) =>
        [
          Math.max(-90, Math.min(90, lat + dLat)),
          Math.max(-180, Math.min(180, lon + dLon)),
        ] as [number, number]
      )
    ),
  fc.tuple(latArb, fc.double({ min: 0, max: 180, noNaN: true })).map(([lat, lon]) =>
    [
      [lat, -lon],
      [lat, lon],
    ] as [number, number][]
  ),
).map((points) => points.map(([lat, lon], i) => makeRegion(`r${i}`, lat, lon)));
const randomCaseArb = fc.record({
  regions: regionSetArb,
  defaultPick: fc.nat(),
  lat: fc.oneof(latArb, fc.constant(0)),
  lon: fc.oneof(lonArb, fc.constant(0)),
});
// Cases the sphere gets wrong: near the equator a degree of latitude is shorter on the
// ellipsoid than a degree of longitude, so a region a little farther north can be nearer.
const misleadingCaseArb = fc.record({
  lon: fc.double({ min: -150, max: 150, noNaN: true }),
  degrees: fc.double({ min: 0.05, max: 25, noNaN: true }),
  stretch: fc.double({ min: 1, max: 1.007, noNaN: true }),
  defaultPick: fc.nat(),
}).map(({ lon, degrees, stretch, defaultPick }) => ({
  regions: [makeRegion("east", 0, lon + degrees), makeRegion("north", degrees * stretch, lon)],
  defaultPick,
  lat: 0,
  lon,
}));
const caseArb = fc.oneof(randomCaseArb, misleadingCaseArb);

Deno.test("RegionIndex.nearest() agrees with a brute-force geodesic minimum", () => {
  fc.assert(
    fc.property(caseArb, ({ regions, defaultPick, lat, lon }) => {
      const defaultName = regions[defaultPick % regions.length].name;
      const index = new RegionIndex(regions, defaultName);
      const expected = bruteNearest(regions, defaultName, lat, lon);
      const actual = index.nearest(lat, lon);
      assert.equal(actual.region.name, expected.region.name);
      assertNear(actual.distanceKm, expected.distanceKm, 1e-9);
    }),
    { numRuns: 300 },
  );
});

Deno.test("RegionIndex.ranked() is a permutation sorted by geodesic distance", () => {
  fc.assert(
    fc.property(caseArb, ({ regions, defaultPick, lat, lon }) => {
      const defaultName = regions[defaultPick % regions.length].name;
      const index = new RegionIndex(regions, defaultName);
      const ranked = index.ranked(lat, lon);
      assert.deepEqual(ranked.map((r) => r.name).sort(), regions.map((r) => r.name).sort());
      const km = ranked.map((r) => geodesicKm(lat, lon, r.lat, r.lon));
      for (let i = 1; i < km.length; i++) assert.ok(km[i] >= km[i - 1] - 0.001, `${km}`);
      assert.equal(ranked[0], index.nearest(lat, lon).region);
    }),
    { numRuns: 300 },
  );
});

Deno.test("RegionIndex.forCountry() gives every country's precomputed region", async (t) => {
  const index = new RegionIndex(makeRegions(), "us-east");
  await t.step("well-known countries", () => {
    assert.equal(index.forCountry("US")?.region.name, "us-east");
    assert.equal(index.forCountry("FR")?.region.name, "eu-west");
    assert.equal(index.forCountry("JP")?.region.name, "ap-southeast");
    assert.equal(index.forCountry("AU")?.region.name, "ap-southeast");
  });
  await t.step("the entry agrees with nearest() and ranked() from the centroid", () => {
    const fr = index.forCountry("FR")!;
    assert.deepEqual([fr.lat, fr.lon], [46, 2]);
    assert.equal(fr.region, index.nearest(fr.lat, fr.lon).region);
    assertNear(fr.distanceKm, geodesicKm(46, 2, fr.region.lat, fr.region.lon), 1e-9);
    assert.deepEqual(fr.ranked, index.ranked(46, 2));
    assert.ok(Object.isFrozen(fr.ranked));
  });
  await t.step("unknown or malformed codes", () => {
    for (const cc of ["XX", "T1", "", "USA", "zz"]) assert.equal(index.forCountry(cc), undefined);
  });
});

Deno.test("RegionIndex gives the default, lookups by name and the fallback order", async (t) => {
  const index = new RegionIndex(makeRegions(), "eu-west");
  await t.step("default, all and byName()", () => {
    assert.equal(index.default.name, "eu-west");
    assert.deepEqual(index.all.map((r) => r.name), [
      "us-west",
      "us-east",
      "eu-west",
      "ap-southeast",
    ]);
    assert.equal(index.byName("us-west")?.city, "San Francisco");
    assert.equal(index.byName("mars"), undefined);
  });
  await t.step("rankedFromDefault() starts at the default, then nearest to it", () => {
    assert.deepEqual(
      index.rankedFromDefault().map((r) => r.name),
      ["eu-west", "us-east", "us-west", "ap-southeast"],
    );
  });
  await t.step("a lazily measured distance is kept in JSON", () => {
    const json = JSON.parse(JSON.stringify(index.nearest(48.8566, 2.3522)));
    assert.equal(json.region.name, "eu-west");
    assertNear(json.distanceKm, 343.5, 1);
  });
});

Deno.test("RegionIndex rejects bad input", async (t) => {
  await t.step("constructor", () => {
    assert.throws(() => new RegionIndex([], "x"), RangeError);
    assert.throws(() => new RegionIndex(makeRegions(), "mars"), /Unknown default region: mars/);
    const dup = [makeRegion("a", 0, 0), makeRegion("a", 1, 1)];
    assert.throws(() => new RegionIndex(dup, "a"), /Duplicate region: a/);
    assert.throws(() => new RegionIndex([makeRegion("a", 91, 0)], "a"), /Invalid latitude: 91/);
  });
  await t.step("nearest() and ranked() with points off the globe", () => {
    const index = new RegionIndex(makeRegions(), "us-east");
    assert.throws(() => index.nearest(NaN, 0), RangeError);
    assert.throws(() => index.nearest(0, 181), /Invalid longitude: 181/);
    assert.throws(() => index.ranked(-90.5, 0), RangeError);
  });
});

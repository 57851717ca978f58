import assert from "node:assert/strict";
import fc from "fast-check";
import { type ClientGeoOptions, resolveClientGeo } from "../../../lib/features/geo/client.ts";
import { LazyClientGeo } from "../../../lib/features/geo/lazy.ts";
import { geodesicKm } from "../../../lib/features/geo/distance.ts";
import { RegionIndex } from "../../../lib/features/geo/regions.ts";
import type { ClientGeo, IpCountryLookup } from "../../../lib/features/geo/types.ts";
import { assertNear, makeRegions } from "./_helpers.ts";

/** Counts `ranked()` calls, to show that a location ranks lazily. */
class CountingIndex extends RegionIndex {
  rankedCalls = 0;
  override ranked(lat: number, lon: number) {
    this.rankedCalls++;
    return super.ranked(lat, lon);
  }
}

const IPDB: IpCountryLookup = {
  lookup: (ip) => ({ "81.2.69.160": "GB", "1.2.3.4": "AN", "5.6.7.8": "xx" })[ip] ?? null,
};

function makeOptions(extra: Partial<ClientGeoOptions> = {}): ClientGeoOptions {
  return { regions: new CountingIndex(makeRegions(), "us-east"), ipdb: IPDB, ...extra };
}

const ALL_HEADERS = {
  "X-User-Lat": "35.6762",
  "X-User-Lon": "139.6503",
  "CF-IPCountry": "FR",
  "x-vercel-ip-latitude": "34.0522",
  "x-vercel-ip-longitude": "-118.2437",
  "x-vercel-ip-country": "US",
  "CloudFront-Viewer-Latitude": "-23.5505",
  "CloudFront-Viewer-Longitude": "-46.6333",
  "CloudFront-Viewer-Country": "BR",
};

function without(...names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(ALL_HEADERS).filter(([k]) => !names.includes(k)));
}

const USER = ["X-User-Lat", "X-User-Lon"];
const VERCEL = ["x-vercel-ip-latitude", "x-vercel-ip-longitude", "x-vercel-ip-country"];
const CLOUDFRONT = ["CloudFront-Viewer-Latitude", "CloudFront-Viewer-Longitude"];

function resolve(
  headers: Record<string, string>,
  options: { trusted?: boolean; ip?: string | null; opts?: ClientGeoOptions } = {},
): ClientGeo {
  return resolveClientGeo(
    {
      headers: new Headers(headers),
      peerTrusted: options.trusted ?? true,
      clientIp: options.ip ?? null,
    },
    options.opts ?? makeOptions(),
  );
}

type Row = [string, Record<string, string>, string | null, Partial<ClientGeo>];
const PRECEDENCE: Row[] = [
  ["user headers first", ALL_HEADERS, "81.2.69.160", {
    source: "user-headers",
    country: null,
    lat: 35.6762,
    lon: 139.6503,
    nearestRegion: "ap-southeast",
  }],
  ["then Cloudflare's country", without(...USER), "81.2.69.160", {
    source: "cloudflare",
    country: "FR",
    lat: 46,
    lon: 2,
    nearestRegion: "eu-west",
  }],
  ["then Vercel's coordinates", without(...USER, "CF-IPCountry"), null, {
    source: "vercel",
    country: "US",
    lat: 34.0522,
    nearestRegion: "us-west",
  }],
  ["then Vercel's country", { "x-vercel-ip-country": "jp" }, null, {
    source: "vercel",
    country: "JP",
    lat: 36,
    lon: 138,
    nearestRegion: "ap-southeast",
  }],
  ["then CloudFront's coordinates", without(...USER, "CF-IPCountry", ...VERCEL), null, {
    source: "cloudfront",
    country: "BR",
    lat: -23.5505,
    nearestRegion: "us-east",
  }],
  ["then CloudFront's country", without(...USER, "CF-IPCountry", ...VERCEL, ...CLOUDFRONT), null, {
    source: "cloudfront",
    country: "BR",
    lat: -10,
    lon: -55,
    nearestRegion: "us-east",
  }],
  ["CloudFront's country alone", { "CloudFront-Viewer-Country": "AU" }, null, {
    source: "cloudfront",
    country: "AU",
    nearestRegion: "ap-southeast",
  }],
  ["then the IP database", {}, "81.2.69.160", {
    source: "ip-database",
    country: "GB",
    lat: 54,
    lon: -2,
    nearestRegion: "eu-west",
  }],
  ["an IP the database doesn't know", {}, "192.0.2.1", { source: "default", country: null }],
  ["an IP in a country world-countries lacks", {}, "1.2.3.4", { source: "default" }],
  ["a database answer that is not a code", {}, "5.6.7.8", { source: "default" }],
  ["then the default region", {}, null, {
    source: "default",
    country: null,
    lat: null,
    lon: null,
    nearestRegion: "us-east",
    distanceKm: null,
  }],
];

Deno.test("resolveClientGeo() takes the first source that locates the client", async (t) => {
  for (const [name, headers, ip, expected] of PRECEDENCE) {
    await t.step(name, () => {
      const geo = resolve(headers, { ip });
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(geo[key as keyof ClientGeo], value, key);
      }
    });
  }
  await t.step("the configured default location", () => {
    const opts = makeOptions({ defaultLocation: { lat: 1.29, lon: 103.85, country: "SG" } });
    const geo = resolve({}, { opts });
    assert.equal(geo.source, "default");
    assert.equal(geo.country, "SG");
    assert.deepEqual([geo.lat, geo.lon], [1.29, 103.85]);
    assert.equal(geo.nearestRegion, "ap-southeast");
    assertNear(geo.distanceKm!, geodesicKm(1.29, 103.85, 1.3521, 103.8198), 1e-9);
    assert.equal(geo.ranked()[0].name, "ap-southeast");
    assert.equal(resolve({}, { opts }).ranked(), geo.ranked(), "computed once per location");
  });
});

Deno.test("resolveClientGeo() ignores location headers from untrusted peers", async (t) => {
  await t.step("falls back to the IP database", () => {
    assert.equal(resolve(ALL_HEADERS, { trusted: false, ip: "81.2.69.160" }).source, "ip-database");
  });
  await t.step("or to the default", () => {
    const geo = resolve(ALL_HEADERS, { trusted: false });
    assert.equal(geo.source, "default");
    assert.equal(geo.nearestRegion, "us-east");
  });
  await t.step("with no IP database the IP is not looked up", () => {
    const opts = makeOptions({ ipdb: undefined });
    assert.equal(resolve({}, { ip: "81.2.69.160", opts }).source, "default");
  });
});

const BAD_NUMBERS = [
  "abc",
  "NaN",
  "91",
  "-90.5",
  "1e999",
  "1e1",
  "Infinity",
  "-Infinity",
  "",
  " ",
  "0x10",
  "1.",
  ".5",
  "+-1",
  "1,5",
  "\u00b2\u00b3", // superscript digits (header values are Latin-1)
  "1." + "0".repeat(31), // longer than 32 characters
  "35.6762, 35.6762", // a repeated header
];

Deno.test("resolveClientGeo() ignores malformed values and tries the next source", async (t) => {
  const next = { "CF-IPCountry": "FR" };
  for (const bad of BAD_NUMBERS) {
    await t.step(`latitude ${JSON.stringify(bad)}`, () => {
      const geo = resolve({ "X-User-Lat": bad, "X-User-Lon": "2.35", ...next });
      assert.equal(geo.source, "cloudflare");
    });
  }
  for (const bad of [...BAD_NUMBERS.filter((b) => b !== "91" && b !== "-90.5"), "181", "-180.01"]) {
    await t.step(`longitude ${JSON.stringify(bad)}`, () => {
      assert.equal(
        resolve({ "X-User-Lat": "48.85", "X-User-Lon": bad, ...next }).source,
        "cloudflare",
      );
    });
  }
  await t.step("latitude without longitude, and the reverse", () => {
    assert.equal(resolve({ "X-User-Lat": "48.85", ...next }).source, "cloudflare");
    assert.equal(resolve({ "X-User-Lon": "2.35", ...next }).source, "cloudflare");
  });
  await t.step("the edges of the range are valid", () => {
    assert.deepEqual(
      [
        resolve({ "X-User-Lat": "-90", "X-User-Lon": "180.000" }).lat,
        resolve({ "X-User-Lat": "+90.0", "X-User-Lon": "-180" }).lon,
      ],
      [-90, -180],
    );
  });
  for (const cc of ["XX", "T1", "ZZ", "FRA", "F", "", "\u00dft", "<script>"]) {
    await t.step(`country ${JSON.stringify(cc)}`, () => {
      assert.equal(resolve({ "CF-IPCountry": cc }, { ip: "81.2.69.160" }).source, "ip-database");
    });
  }
  await t.step("CDN coordinates that are bad fall back to the CDN's country", () => {
    const geo = resolve({
      "x-vercel-ip-latitude": "1e999",
      "x-vercel-ip-longitude": "2",
      "x-vercel-ip-country": "FR",
    });
    assert.equal(geo.source, "vercel");
    assert.deepEqual([geo.country, geo.lat, geo.lon], ["FR", 46, 2]);
  });
  await t.step("CDN coordinates with a bad country keep the coordinates", () => {
    const geo = resolve({
      "CloudFront-Viewer-Latitude": "48.85",
      "CloudFront-Viewer-Longitude": "2.35",
      "CloudFront-Viewer-Country": "XX",
    });
    assert.equal(geo.source, "cloudfront");
    assert.deepEqual([geo.country, geo.nearestRegion], [null, "eu-west"]);
  });
  await t.step("a bad default location is ignored", () => {
    const opts = makeOptions({ defaultLocation: { lat: NaN, lon: 0 } });
    assert.equal(resolve({}, { opts }).lat, null);
  });
  await t.step("an IP database that throws finds nothing", () => {
    const opts = makeOptions({
      ipdb: {
        lookup: () => {
          throw new Error("boom");
        },
      },
    });
    assert.equal(resolve({}, { ip: "81.2.69.160", opts }).source, "default");
  });
});

Deno.test("resolveClientGeo() never throws on any header values", () => {
  const names = [...Object.keys(ALL_HEADERS)];
  const value = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.double().map(String),
    fc.constantFrom(...BAD_NUMBERS, "FR", "XX", "T1"),
  ).filter((v) => !/[\r\n\0]/.test(v));
  const regions = new RegionIndex(makeRegions(), "us-east");
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...names), value),
      fc.boolean(),
      fc.option(fc.string()),
      (headers, trusted, ip) => {
        let h: Headers;
        try {
          h = new Headers(headers);
        } catch {
          return; // not a valid header value at all: never reaches us
        }
        const geo = resolveClientGeo({ headers: h, peerTrusted: trusted, clientIp: ip }, {
          regions,
          ipdb: IPDB,
        });
        assert.ok(regions.byName(geo.nearestRegion));
        assert.ok(geo.lat === null || (geo.lat >= -90 && geo.lat <= 90));
        assert.ok(geo.lon === null || (geo.lon >= -180 && geo.lon <= 180));
        assert.equal(geo.ranked()[0].name, geo.nearestRegion);
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("ClientGeo measures and ranks lazily, once", async (t) => {
  await t.step("coordinates: ranked() on first call, then cached", () => {
    const opts = makeOptions();
    const regions = opts.regions as CountingIndex;
    const geo = resolve({ "X-User-Lat": "48.8566", "X-User-Lon": "2.3522" }, { opts });
    assert.equal(regions.rankedCalls, 0);
    const { ranked } = geo; // works detached, too
    assert.deepEqual(ranked().map((r) => r.name), [
      "eu-west",
      "us-east",
      "us-west",
      "ap-southeast",
    ]);
    assert.equal(geo.ranked(), ranked());
    assert.equal(regions.rankedCalls, 1);
    assertNear(geo.distanceKm!, geodesicKm(48.8566, 2.3522, 51.5074, -0.1278), 1e-9);
  });
  await t.step("countries and unknown locations use precomputed orders", () => {
    const opts = makeOptions();
    const regions = opts.regions as CountingIndex;
    const fr = resolve({ "CF-IPCountry": "FR" }, { opts });
    assert.equal(fr.ranked(), regions.forCountry("FR")!.ranked);
    assert.equal(fr.distanceKm, regions.forCountry("FR")!.distanceKm);
    assert.equal(resolve({}, { opts }).ranked(), regions.rankedFromDefault());
    assert.equal(regions.rankedCalls, 0);
  });
  await t.step("JSON has every field but ranked", () => {
    const json = JSON.parse(
      JSON.stringify(resolve({ "X-User-Lat": "48.8566", "X-User-Lon": "2.3522" })),
    );
    assert.deepEqual(Object.keys(json).sort(), [
      "country",
      "distanceKm",
      "lat",
      "lon",
      "nearestRegion",
      "source",
    ]);
    assertNear(json.distanceKm, 343.5, 1);
  });
});

Deno.test("LazyClientGeo resolves on first read, like resolveClientGeo()", () => {
  const options = makeOptions();
  const input = {
    headers: new Headers({ "CF-IPCountry": "JP" }),
    peerTrusted: true,
    clientIp: "81.2.69.160",
  };
  const lazy = new LazyClientGeo(input, options);
  const eager = resolveClientGeo(input, options);
  assert.equal(lazy.source, "cloudflare");
  assert.deepEqual(JSON.parse(JSON.stringify(lazy)), JSON.parse(JSON.stringify(eager)));
  assert.deepEqual(lazy.ranked().map((r) => r.name), eager.ranked().map((r) => r.name));
  const untrusted = new LazyClientGeo({ ...input, peerTrusted: false }, options);
  assert.deepEqual([untrusted.source, untrusted.country, untrusted.nearestRegion], [
    "ip-database",
    "GB",
    "eu-west",
  ]);
});

/**
 * Client-location micro-benchmarks: the IP path (database lookup → country → precomputed
 * region; target under 5 µs), nearest region from coordinates, and resolveClientGeo per source.
 * Run: deno bench --allow-all bench/geo_bench.ts
 */

import { DEFAULT_REGIONS } from "../lib/core/fields.ts";
import { resolveClientGeo } from "../lib/features/geo/client.ts";
import { geodesicKm, sphericalKm } from "../lib/features/geo/distance.ts";
import { loadIpDatabase } from "../lib/features/geo/ipdb.ts";
import { RegionIndex } from "../lib/features/geo/regions.ts";

const started = performance.now();
const db = await loadIpDatabase();
console.log(`IP database: ${db.size} ranges in ${(performance.now() - started).toFixed(0)} ms`);

const regions = new RegionIndex(
  DEFAULT_REGIONS.map((r) => ({ ...r, origin: `http://${r.name}.test` })),
  "us-east",
);

const V4 = ["8.8.8.8", "1.1.1.1", "81.2.69.160", "185.60.216.35", "203.119.21.1", "200.160.2.3"];
const V6 = ["2001:4860:4860::8888", "2a00:1450:4001:80b::200e", "2400:cb00:2048:1::c629:d7a2"];
const MIXED = [...V4, ...V6, "::ffff:8.8.4.4"];
// Fixed pseudo-random points (lat, lon), so every run measures the same work.
const POINTS: [number, number][] = Array.from({ length: 256 }, (_, i) => {
  const x = Math.sin(i * 12.9898) * 43758.5453, y = Math.sin(i * 78.233) * 12543.123;
  return [(x - Math.floor(x)) * 160 - 80, (y - Math.floor(y)) * 360 - 180];
});
let i = 0;
let sink: unknown;

Deno.bench("IP path: v4 lookup → country → region", { group: "ip", baseline: true }, () => {
  const cc = db.lookup(V4[i++ % V4.length]);
  sink = cc === null ? regions.default : regions.forCountry(cc)?.region;
});
Deno.bench("IP path: v6 lookup → country → region", { group: "ip" }, () => {
  const cc = db.lookup(V6[i++ % V6.length]);
  sink = cc === null ? regions.default : regions.forCountry(cc)?.region;
});
Deno.bench("IpCountryDb.lookup (mixed v4/v6)", { group: "ip" }, () => {
  sink = db.lookup(MIXED[i++ % MIXED.length]);
});

Deno.bench("RegionIndex.nearest", { group: "nearest", baseline: true }, () => {
  const [lat, lon] = POINTS[i++ & 255];
  sink = regions.nearest(lat, lon).region;
});
Deno.bench("RegionIndex.nearest + distanceKm", { group: "nearest" }, () => {
  const [lat, lon] = POINTS[i++ & 255];
  sink = regions.nearest(lat, lon).distanceKm;
});
Deno.bench("RegionIndex.ranked", { group: "nearest" }, () => {
  const [lat, lon] = POINTS[i++ & 255];
  sink = regions.ranked(lat, lon);
});
Deno.bench("geodesicKm", { group: "nearest" }, () => {
  const [lat, lon] = POINTS[i++ & 255];
  sink = geodesicKm(lat, lon, 1.3521, 103.8198);
});
Deno.bench("sphericalKm", { group: "nearest" }, () => {
  const [lat, lon] = POINTS[i++ & 255];
  sink = sphericalKm(lat, lon, 1.3521, 103.8198);
});

const SOURCES: [string, Record<string, string>, string | null, boolean?][] = [
  ["user-headers", { "X-User-Lat": "35.6762", "X-User-Lon": "139.6503" }, null],
  ["cloudflare", { "CF-IPCountry": "FR" }, null],
  ["vercel (coordinates)", {
    "x-vercel-ip-latitude": "34.0522",
    "x-vercel-ip-longitude": "-118.2437",
    "x-vercel-ip-country": "US",
  }, null],
  ["vercel (country)", { "x-vercel-ip-country": "JP" }, null],
  ["cloudfront (coordinates)", {
    "CloudFront-Viewer-Latitude": "-23.5505",
    "CloudFront-Viewer-Longitude": "-46.6333",
    "CloudFront-Viewer-Country": "BR",
  }, null],
  ["ip-database (trusted peer, no CDN headers)", {}, "81.2.69.160"],
  ["ip-database (untrusted peer)", { "CF-IPCountry": "FR" }, "81.2.69.160", false],
  ["default (trusted peer, nothing known)", {}, null],
  ["default (untrusted peer, no IP)", {}, null, false],
];
for (const [name, init, clientIp, peerTrusted = true] of SOURCES) {
  const input = { headers: new Headers(init), peerTrusted, clientIp };
  const options = { regions, ipdb: db };
  Deno.bench(`resolveClientGeo: ${name}`, { group: "resolve" }, () => {
    sink = resolveClientGeo(input, options).nearestRegion;
  });
}
{
  const input = {
    headers: new Headers({ "X-User-Lat": "35.6762", "X-User-Lon": "139.6503" }),
    peerTrusted: true,
    clientIp: null,
  };
  Deno.bench("resolveClientGeo: user-headers + distanceKm + ranked()", { group: "resolve" }, () => {
    const geo = resolveClientGeo(input, { regions, ipdb: db });
    sink = [geo.distanceKm, geo.ranked()];
  });
}

globalThis.addEventListener("unload", () => void sink);

import assert from "node:assert/strict";
import { RegionIndex } from "../../lib/features/geo/regions.ts";
import { defaultRegionOf } from "../../lib/core/fields.ts";
import { loadConfig } from "../../lib/core/config.ts";
import { CITIES, findCity } from "../../tools/sim/latency.ts";
import { parseSimArgs } from "../../tools/sim/options.ts";
import { routingLines } from "../../tools/sim/report.ts";
import { EdgeRouter } from "../../tools/sim/routing.ts";

const EDGES = parseSimArgs([])!.edges;
const city = (name: string) => findCity(name)!;

Deno.test("EdgeRouter by geo sends every city where the product's own routing does", () => {
  const router = new EdgeRouter(EDGES, "geo");
  // The index the edge builds from a zero-configuration start (lib/core/app.ts does the same).
  const config = loadConfig({ env: {} });
  const product = new RegionIndex(config.regions, defaultRegionOf(config));
  for (const c of CITIES) {
    assert.equal(
      router.edgeFor(c).region,
      product.nearest(c.lat, c.lon).region.name,
      `${c.name}: the simulator and lib/features/geo agree`,
    );
  }
  assert.equal(router.edgeFor(city("Sydney")).region, "ap-southeast");
  assert.equal(router.edgeFor(city("Tokyo")).region, "ap-southeast");
});

Deno.test("EdgeRouter by rtt picks the lowest measured RTT, and route() shows both", () => {
  const router = new EdgeRouter(EDGES, "rtt");
  assert.equal(router.edgeFor(city("Sydney")).region, "us-west");
  const sydney = router.route(city("Sydney"));
  assert.equal(sydney.edge, "us-west");
  assert.equal(sydney.geo.edge, "ap-southeast");
  assert.equal(sydney.rtt.edge, "us-west");
  assert.ok(sydney.geo.km < sydney.rtt.km, "Singapore is nearer");
  assert.ok(sydney.rtt.rttMs < sydney.geo.rttMs, "California answers faster");
  assert.equal(sydney.rtt.rttMs, 10 + 157.8);
});

Deno.test("routingLines() names the cities where the routings differ, and why", () => {
  const geo = new EdgeRouter(EDGES, "geo");
  const lines = routingLines(CITIES.map((c) => geo.route(c)), "geo");
  assert.match(lines[0], /^Edges by the product's geo routing .*Sydney → ap-southeast/);
  const differ = lines.slice(1);
  assert.equal(differ.length, 1, differ.join("\n"));
  assert.match(differ[0], /^Sydney: geo routing names ap-southeast \(6,\d{3} km, 185\.4 ms RTT\)/);
  assert.match(differ[0], /the lowest RTT is us-west .*167\.8 ms/);
  const withTokyo = parseSimArgs(["--extra-region", "ap-northeast:Tokyo"])!.edges;
  const both = new EdgeRouter(withTokyo, "geo");
  assert.equal(both.edgeFor(city("Tokyo")).region, "ap-northeast");
});

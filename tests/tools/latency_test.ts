import assert from "node:assert/strict";
import {
  ACCESS_RTT_MS,
  CITIES,
  clientRttMs,
  findCity,
  INTRA_SITE_RTT_MS,
  nearestByRtt,
  nodeRttMs,
  ORIGIN_SITE,
  REGION_SITES,
  type Site,
  siteRtt,
} from "../../tools/sim/latency.ts";

const NODES = Object.entries(REGION_SITES).map(([region, site]) => ({ region, site }));

Deno.test("siteRtt() gives the published figures and says where they came from", async (t) => {
  await t.step("the 2017 table, FROM row then TO column", () => {
    assert.deepEqual(siteRtt("N. Virginia", "Tokyo"), { ms: 145.3, source: "aws2017" });
    assert.deepEqual(siteRtt("Tokyo", "Singapore"), { ms: 73.79, source: "aws2017" });
    assert.deepEqual(siteRtt("Singapore", "Tokyo"), { ms: 73.81, source: "aws2017" });
    assert.deepEqual(siteRtt("Ireland", "Frankfurt"), { ms: 19.56, source: "aws2017" });
    assert.deepEqual(siteRtt("Sydney", "Singapore"), { ms: 175.4, source: "aws2017" });
  });
  await t.step("São Paulo has no row: its column is used both ways", () => {
    assert.deepEqual(siteRtt("São Paulo", "N. Virginia"), { ms: 119.5, source: "aws2017" });
    assert.deepEqual(siteRtt("N. Virginia", "São Paulo"), { ms: 119.5, source: "aws2017" });
  });
  await t.step("London and Mumbai come from CloudPing", () => {
    assert.deepEqual(siteRtt("London", "Frankfurt"), { ms: 17, source: "cloudping" });
    assert.deepEqual(siteRtt("Singapore", "Mumbai"), { ms: 54, source: "cloudping" });
    assert.deepEqual(siteRtt("Mumbai", "London"), { ms: 111, source: "cloudping" });
  });
  await t.step("a site to itself is zero", () => {
    assert.deepEqual(siteRtt("Tokyo", "Tokyo"), { ms: 0, source: "same-site" });
  });
  await t.step("every city reaches every node and the origin", () => {
    for (const city of CITIES) {
      for (const site of [...NODES.map((n) => n.site), ORIGIN_SITE, "Tokyo" as Site]) {
        const rtt = siteRtt(city.site, site);
        assert.ok(rtt.ms >= 0 && rtt.ms < 400, `${city.name} → ${site}: ${rtt.ms}`);
      }
    }
  });
});

Deno.test("clientRttMs() and nodeRttMs() add the stated assumptions and scale", () => {
  const tokyo = findCity("tokyo")!;
  assert.equal(clientRttMs(tokyo, "N. Virginia"), ACCESS_RTT_MS + 145.3);
  assert.equal(clientRttMs(tokyo, "Tokyo"), ACCESS_RTT_MS);
  assert.ok(Math.abs(clientRttMs(tokyo, "N. Virginia", { scale: 0.2 }) - 0.2 * 155.3) < 1e-9);
  assert.equal(clientRttMs(tokyo, "Tokyo", { accessMs: 4 }), 4);
  assert.equal(nodeRttMs("N. Virginia", "N. Virginia"), INTRA_SITE_RTT_MS);
  assert.equal(nodeRttMs("N. California", "N. Virginia"), 71.63);
  assert.equal(nodeRttMs("N. Virginia", "N. California"), 72.74);
});

Deno.test("nearestByRtt() picks the edge with the lowest measured RTT", async (t) => {
  const nearest = (name: string, nodes = NODES) => nearestByRtt(findCity(name)!, nodes).region;
  await t.step("the four default regions", () => {
    assert.equal(nearest("Tokyo"), "ap-southeast");
    assert.equal(nearest("Mumbai"), "ap-southeast");
    assert.equal(nearest("Frankfurt"), "eu-west");
    assert.equal(nearest("São Paulo"), "us-east");
    assert.equal(nearest("New York"), "us-east");
    // 2017: Sydney–N. California 157.8 ms beats Sydney–Singapore 175.4 ms.
    assert.equal(nearest("Sydney"), "us-west");
  });
  await t.step("a Tokyo edge takes Tokyo", () => {
    assert.equal(
      nearest("Tokyo", [...NODES, { region: "ap-northeast", site: "Tokyo" }]),
      "ap-northeast",
    );
  });
});

Deno.test("CITIES are the nine simulated cities, with approximations said", () => {
  assert.deepEqual(CITIES.map((c) => c.name), [
    "Tokyo",
    "Singapore",
    "Sydney",
    "Mumbai",
    "London",
    "Frankfurt",
    "São Paulo",
    "New York",
    "San Francisco",
  ]);
  for (const c of CITIES) {
    if (c.site !== c.name) assert.ok(c.approximation, `${c.name} is mapped to ${c.site}`);
  }
  assert.equal(findCity("Atlantis"), undefined);
});

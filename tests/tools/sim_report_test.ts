import assert from "node:assert/strict";
import { parseSimArgs, UsageError } from "../../tools/sim/options.ts";
import { mdTable, textTable } from "../../tools/sim/report.ts";
import { type LatencyRow, slug, verdict } from "../../tools/sim/scenario_latency.ts";
import { latencySvg, niceScale } from "../../tools/sim/svg.ts";

function row(city: string, scenario: LatencyRow["scenario"], d: number, e: number): LatencyRow {
  const stats = (p50: number) => ({
    n: 10,
    p50,
    p95: p50 * 1.2,
    mean: p50,
    min: p50,
    max: p50 * 1.3,
  });
  return {
    city,
    edge: "ap-southeast",
    scenario,
    direct: stats(d),
    viaEdge: stats(e),
    model: { directMs: d, edgeMs: e },
    ratio: e / d,
    edgeNotSlower: e <= d,
    verdict: verdict(e, d),
    errors: 0,
  };
}

Deno.test("verdict() calls differences within max(1 ms, 2%) a tie", () => {
  assert.equal(verdict(100, 200), "faster");
  assert.equal(verdict(262.4, 262.3), "tie");
  assert.equal(verdict(204, 200), "tie");
  assert.equal(verdict(205, 200), "slower");
  assert.equal(verdict(10.9, 10), "tie");
  assert.equal(verdict(11.1, 10), "slower");
});

Deno.test("slug() makes URL-safe ASCII names", () => {
  assert.equal(slug("São Paulo"), "sao-paulo");
  assert.equal(slug("New York"), "new-york");
});

Deno.test("textTable() and mdTable() align columns", () => {
  const text = textTable(["city", "ms"], [["Tokyo", "1.0"], ["São Paulo", "100.5"]], ["l", "r"]);
  assert.deepEqual(text.split("\n"), [
    "city          ms",
    "─────────  ─────",
    "Tokyo        1.0",
    "São Paulo  100.5",
  ]);
  assert.equal(
    mdTable(["a", "b"], [["x|y", "2"]], ["l", "r"]),
    "| a | b |\n| --- | ---: |\n| x\\|y | 2 |",
  );
});

Deno.test("niceScale() covers the maximum with round ticks", () => {
  assert.deepEqual(niceScale(480), { top: 500, step: 100 });
  assert.deepEqual(niceScale(31), { top: 40, step: 10 });
  assert.deepEqual(niceScale(9), { top: 10, step: 2 });
  assert.deepEqual(niceScale(0), { top: 1, step: 1 });
});

Deno.test("latencySvg() draws two bars and two whiskers per city and scenario", () => {
  const rows = [
    row("Tokyo", "warm", 310, 170),
    row("A<b>&", "warm", 100, 20),
    row("Tokyo", "cold", 310, 390),
    row("A<b>&", "cold", 100, 90),
  ];
  const svg = latencySvg(rows, "sub & title");
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.equal((svg.match(/<rect [^>]*><title>/g) ?? []).length, 8);
  assert.equal((svg.match(/<line [^>]*stroke="#333" stroke-width="1"/g) ?? []).length, 8);
  assert.ok(svg.includes("A&lt;b&gt;&amp;") && !svg.includes("A<b>&"));
  assert.ok(svg.includes("sub &amp; title"));
});

Deno.test("latencySvg() clips a p95 beyond the shared axis and labels it", () => {
  const rows = [row("Tokyo", "warm", 300, 170), row("Sydney", "warm", 400, 300)];
  rows[1].viaEdge.p95 = 2000;
  const svg = latencySvg(rows, "");
  assert.equal((svg.match(/<path /g) ?? []).length, 1);
  assert.match(svg, />2000<\/text>/);
});

Deno.test("parseSimArgs() reads the modes and an extra region", () => {
  const quick = parseSimArgs([
    "--quick",
    "--extra-region",
    "ap-northeast:Tokyo",
    "--out",
    "/tmp/x",
  ])!;
  assert.equal(quick.quick, true);
  assert.equal(quick.rtt.scale, 0.3);
  assert.equal(quick.requests, 8);
  assert.deepEqual(quick.edges.map((e) => e.region), [
    "us-west",
    "us-east",
    "eu-west",
    "ap-southeast",
    "ap-northeast",
  ]);
  assert.equal(quick.edges[4].site, "Tokyo");
  const full = parseSimArgs(["--requests", "12", "--keep-alive", "--scale", "0.5"])!;
  assert.equal(full.requests, 12);
  assert.equal(full.keepAlive, true);
  assert.equal(full.rtt.scale, 0.5);
  assert.deepEqual([...full.scenarios], ["latency", "analytics", "crdt"]);
  assert.equal(full.routing, "geo", "the product's own routing by default");
  assert.equal(parseSimArgs(["--routing", "rtt"])!.routing, "rtt");
});

Deno.test("parseSimArgs() refuses bad input with a reason", async (t) => {
  for (
    const [args, reason] of [
      [["--requests", "0"], /Invalid --requests: 0/],
      [["--scale=-1"], /Invalid --scale: -1/],
      [["--extra-region", "ap-northeast:Atlantis"], /Invalid --extra-region/],
      [["--extra-region", "us-east:Tokyo"], /Region already present: us-east/],
      [["--partition", "mars"], /Unknown --partition: mars/],
      [["--scenarios", "latency,dance"], /Unknown scenario: dance/],
      [["--bogus"], /Unknown option/],
      [["--routing", "dns"], /Invalid --routing \(geo or rtt\): dns/],
    ] as const
  ) {
    await t.step(args.join(" "), () => {
      assert.throws(
        () => parseSimArgs([...args]),
        (e) => e instanceof UsageError && reason.test(e.message),
      );
    });
  }
  assert.equal(parseSimArgs(["--help"]), null);
});

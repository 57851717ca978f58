/**
 * The multi-region simulator end to end: `tools/sim/main.ts --quick` as its own process, then
 * the shape of its results, checked with relations only (never absolute times): the edge beats
 * the origin for cities far from it, the WAN links add at least the modelled delays, analytics
 * totals are exact, the CRDTs converge after the partition, and no process outlives the run.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

interface Stats {
  n: number;
  p50: number;
  p95: number;
}

interface Row {
  city: string;
  edge: string;
  scenario: string;
  direct: Stats;
  viaEdge: Stats;
  model: { directMs: number; edgeMs: number };
  expectedCacheOutcomes?: number;
  errors: number;
}

function sim(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tools/sim/main.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function refused(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    return false;
  } catch {
    return true;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("tools/sim --quick runs every scenario and its results have the expected shape", async (t) => {
  const out = await Deno.makeTempDir({ prefix: "outpost-sim-test-" });
  const child = sim(["--quick", "--out", out]);
  const [status, stdout, stderr] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  try {
    assert.equal(status.code, 0, `${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
    const results = JSON.parse(await Deno.readTextFile(`${out}/results.json`));

    await t.step("latency: every city and scenario, both paths, no errors", () => {
      const rows: Row[] = results.latency.rows;
      assert.equal(rows.length, 9 * 4);
      for (const r of rows) {
        assert.equal(r.errors, 0, `${r.city} ${r.scenario}`);
        assert.equal(r.direct.n, results.options.requests);
        assert.equal(r.viaEdge.n, results.options.requests);
        assert.ok(r.direct.p50 <= r.direct.p95 && r.viaEdge.p50 <= r.viaEdge.p95);
      }
    });

    await t.step("latency: the links add at least the modelled round trips", () => {
      for (const r of results.latency.rows as Row[]) {
        assert.ok(r.direct.p50 >= r.model.directMs - 1, `${r.city} ${r.scenario} direct`);
        assert.ok(r.viaEdge.p50 >= r.model.edgeMs - 1, `${r.city} ${r.scenario} edge`);
      }
    });

    await t.step("latency: warm pages are edge hits, cold ones misses", () => {
      for (const r of results.latency.rows as Row[]) {
        if (r.scenario === "warm" || r.scenario === "cold") {
          assert.equal(r.expectedCacheOutcomes, r.viaEdge.n, `${r.city} ${r.scenario}`);
        }
      }
    });

    await t.step("latency: far from the origin, a warm page through the edge is faster", () => {
      const far = (results.latency.rows as Row[]).filter((r) =>
        r.scenario === "warm" && r.model.edgeMs <= r.model.directMs / 2
      );
      assert.ok(far.length >= 4, `far cities: ${far.map((r) => r.city)}`);
      for (const r of far) {
        assert.ok(
          r.viaEdge.p50 < r.direct.p50,
          `${r.city}: edge ${r.viaEdge.p50} ms vs direct ${r.direct.p50} ms`,
        );
      }
    });

    await t.step(
      "analytics: central totals equal the events accepted, summaries are smaller",
      () => {
        const a = results.analytics;
        assert.equal(a.exact, true);
        assert.equal(a.events.accepted, a.events.sent);
        assert.equal(a.central.total_events, a.events.accepted);
        for (const [region, n] of Object.entries(a.events.byEdge)) {
          assert.equal(a.central.by_edge[region], n, region);
        }
        assert.ok(a.summaryBytes > 0 && a.summaryBytes < a.rawBytes);
        assert.ok(a.wire.edgesToCentral < a.wire.clientsToEdges);
      },
    );

    await t.step("crdt: isolated during the partition, converged after the heal", () => {
      const c = results.crdt;
      assert.equal(c.isolated, true);
      assert.equal(c.converged, true);
      assert.ok(c.convergedMs >= 0);
      const cut = c.beforeHeal.find((b: { node: string }) => b.node === c.partitioned);
      assert.ok(cut.value < c.writes.total, "the cut-off node saw only its own writes");
    });

    await t.step("the Markdown and the SVG chart are written", async () => {
      const md = await Deno.readTextFile(`${out}/results.md`);
      assert.match(md, /\| city \| edge \| direct p50 \|/);
      assert.match(md, /Edges by the product's geo routing .*Sydney → ap-southeast/);
      assert.match(md, /Sydney: geo routing names ap-southeast .* the lowest RTT is us-west/);
      assert.match(md, /Tokyo, warm cacheable page/);
      const svg = await Deno.readTextFile(`${out}/latency.svg`);
      assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      assert.equal((svg.match(/<rect x=/g) ?? []).length >= 9 * 4 * 2, true);
    });

    await t.step("every city used the edge the product's geo routing names", () => {
      const routes = results.topology.routes as Array<{ city: string; edge: string }>;
      const rows = results.latency.rows as Row[];
      for (const r of rows) {
        assert.equal(r.edge, routes.find((x) => x.city === r.city)!.edge, r.city);
      }
      assert.equal(routes.find((x) => x.city === "Sydney")!.edge, "ap-southeast");
    });

    await t.step("no process outlives the simulator", async () => {
      for (const p of results.topology.processes as Array<{ name: string; url: string }>) {
        assert.ok(await refused(`${p.url}/`), `${p.name} still answers`);
      }
    });
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("tools/sim stops every node and removes its temp dir on SIGINT", async () => {
  const out = await Deno.makeTempDir({ prefix: "outpost-sim-test-" });
  const child = sim(["--quick", "--out", out, "--scenarios", "crdt"]);
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!/^nodes: .*$/m.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`exited before starting: ${text}\n${await stderr}`);
      text += value;
    }
    const dir = /in (\/\S+)\n/.exec(text)![1];
    const urls = [.../^nodes: (.*)$/m.exec(text)![1].matchAll(/(http:\/\/[\d.:]+)/g)].map((m) =>
      m[1]
    );
    assert.equal(urls.length, 6);
    assert.ok(await exists(dir));
    child.kill("SIGINT");
    const status = await child.status;
    assert.equal(status.code, 130);
    for (const url of urls) assert.ok(await refused(`${url}/`), `${url} still answers`);
    assert.equal(await exists(dir), false, `${dir} was left behind`);
  } finally {
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await stderr;
    await Deno.remove(out, { recursive: true });
  }
});

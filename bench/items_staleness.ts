/**
 * Measures the items' staleness: two app instances (two nodes) on one KV database, real clock,
 * background jobs running. Node A writes a new version; we time until node B serves it. Two
 * modes: the default (kv.watch plus the polling fallback) and polling alone (watch off), which
 * shows the bound the poll interval gives when the watch is unavailable. Results go to
 * bench/results/items_staleness.{json,md}.
 * Run: deno run --allow-all bench/items_staleness.ts [--writes 200]; `deno task bench` runs it too.
 */

import { createApp, type Edge } from "../lib/core/app.ts";
import { loadConfig } from "../lib/core/config.ts";
import { writeResult } from "./lib/report.ts";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function call(edge: Edge, method: string, path: string, body?: unknown) {
  const res = await edge.fetch(
    new Request(`http://node${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  const etag = res.headers.get("etag");
  const source = res.headers.get("x-source");
  await res.body?.cancel();
  return { status: res.status, etag, source };
}

/** One mode's staleness figures. */
export interface ModeResult {
  mode: string;
  writes: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  boundMs: number;
}

async function measure(mode: "watch+poll" | "poll only", writes: number): Promise<ModeResult> {
  const config = loadConfig({
    env: { KV_PATH: ":memory:", DEMO_ORIGIN: "off", ORIGIN_URL: "http://127.0.0.1:9" },
  });
  const kv = await Deno.openKv(":memory:");
  const a = createApp({ config, kv });
  const b = createApp({ config, kv });
  a.start();
  if (mode === "watch+poll") b.start();
  else b.jobs.start();
  const samples: number[] = [];
  try {
    await call(a, "PUT", "/items/probe", { v: 0 });
    await new Promise((r) => setTimeout(r, config.data.pollIntervalMs * 2));
    for (let i = 1; i <= writes; i++) {
      // B holds the current version in memory, as a busy node would.
      while ((await call(b, "GET", "/items/probe")).source !== "edge") {
        await new Promise((r) => setTimeout(r, 1));
      }
      // Write at a random phase of B's polling, as real writes arrive.
      await new Promise((r) => setTimeout(r, Math.random() * config.data.pollIntervalMs));
      const written = await call(a, "PUT", "/items/probe", { v: i });
      const t0 = performance.now();
      while (true) {
        const seen = await call(b, "GET", "/items/probe");
        if (seen.etag === written.etag) break;
        await new Promise((r) => setTimeout(r, 0));
      }
      samples.push(performance.now() - t0);
    }
  } finally {
    await a.close();
    await b.close();
    kv.close();
  }
  samples.sort((x, y) => x - y);
  return {
    mode,
    writes,
    p50Ms: percentile(samples, 0.5),
    p90Ms: percentile(samples, 0.9),
    p99Ms: percentile(samples, 0.99),
    maxMs: samples.at(-1)!,
    boundMs: config.data.maxStalenessMs,
  };
}

/** Both modes: watch+poll with `writes` writes, polling alone with a fifth of them (≥ 20). */
export async function measureStaleness(writes = 200): Promise<ModeResult[]> {
  return [
    await measure("watch+poll", writes),
    await measure("poll only", Math.max(20, Math.floor(writes / 5))),
  ];
}

/** The results as Markdown. */
export function stalenessMarkdown(results: ModeResult[], heading = "#"): string {
  const f = (n: number) => n.toFixed(1);
  return [
    `${heading} Items staleness (read at the edge, written to the central copy)`,
    "",
    `Two app instances on one \`:memory:\` KV, real clock, jobs running; ${
      new Date().toISOString()
    }, ` +
    `${navigator.hardwareConcurrency} CPUs. Time from A's write being acknowledged until B serves it.`,
    "",
    "| mode | writes | p50 ms | p90 ms | p99 ms | max ms | configured bound ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...results.map((r) =>
      `| ${r.mode} | ${r.writes} | ${f(r.p50Ms)} | ${f(r.p90Ms)} | ${f(r.p99Ms)} | ${
        f(r.maxMs)
      } | ${r.boundMs} |`
    ),
  ].join("\n");
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--writes");
  const results = await measureStaleness(i >= 0 ? Number(Deno.args[i + 1]) : 200);
  const md = stalenessMarkdown(results);
  console.log(md);
  console.log(`\nwritten: ${await writeResult("items_staleness", results, md)}`);
}

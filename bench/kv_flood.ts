/**
 * How big the KV file gets under a cache-busting flood: 400 requests for distinct 64 KiB pages
 * (25 MiB of bodies) through an edge whose KV is a file, once with `cache.kv.maxBytes` = 8 MiB
 * and once with a budget too large to matter (what the cache did before it had one). Reports
 * the SQLite file (with its -wal and -shm), what the usage counters say, and the evictions.
 * Usage: deno run -A bench/kv_flood.ts [--pages 400] [--size 65536] [--budget-mib 8]
 */

import { createApp } from "../lib/core/app.ts";
import { ManualClock } from "../lib/core/clock.ts";
import { loadConfig } from "../lib/core/config.ts";
import { createDemoOrigin } from "../lib/features/proxy/demo_origin.ts";
import { writeResult } from "./lib/report.ts";

const MiB = 1024 * 1024;

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

async function fileBytes(path: string): Promise<{ db: number; wal: number; shm: number }> {
  const size = async (p: string) => {
    try {
      return (await Deno.stat(p)).size;
    } catch {
      return 0;
    }
  };
  return { db: await size(path), wal: await size(`${path}-wal`), shm: await size(`${path}-shm`) };
}

interface FloodResult {
  budgetBytes: number;
  pages: number;
  bodyBytes: number;
  file: { db: number; wal: number; shm: number; total: number };
  counted: number;
  entries: number;
  evictions: number;
  evictedBytes: number;
  /** Fills kept out of KV (no room could be made, or too many writes waiting). */
  skipped: number;
  lastPageHit: boolean;
}

async function flood(budgetBytes: number, pages: number, size: number): Promise<FloodResult> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-kv-flood-" });
  const path = `${dir}/kv.sqlite3`;
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  const demo = createDemoOrigin({ clock });
  const origin = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, demo.fetch);
  const kv = await Deno.openKv(path);
  const config = loadConfig({
    env: { KV_PATH: path, ORIGIN_URL: `http://127.0.0.1:${origin.addr.port}`, LOG_LEVEL: "error" },
    module: {
      demoOrigin: { mode: "off" },
      authz: { enabled: false },
      experiments: [],
      cache: { memoryBytes: 8 * MiB, kv: { maxBytes: budgetBytes } },
    },
  });
  const edge = createApp({ config, kv, clock });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, edge.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    // Eight clients at a time, like a small crawler or an attacker.
    let next = 0;
    const worker = async () => {
      while (next < pages) {
        const i = next++;
        const res = await fetch(`${base}/cacheable/flood-${i}?size=${size}&max_age=3600`);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await edge.cache!.settled();
    const last = await fetch(`${base}/cacheable/flood-${pages - 1}?size=${size}&max_age=3600`);
    await last.arrayBuffer();
    const store = edge.cache!.store;
    let entries = 0;
    for await (const _ of kv.list({ prefix: ["cache", "idx"] })) entries++;
    const evictions = edge.metrics.counter("outpost_cache_kv_evictions_total", "");
    const evictedBytes = edge.metrics.counter("outpost_cache_kv_evicted_bytes_total", "");
    const skipped = edge.metrics.counter("outpost_cache_kv_writes_skipped_total", "");
    const counted = await store.budget.used();
    const file = await fileBytes(path);
    return {
      budgetBytes,
      pages,
      bodyBytes: pages * size,
      file: { ...file, total: file.db + file.wal + file.shm },
      counted,
      entries,
      evictions: evictions.get({ reason: "budget" }),
      evictedBytes: evictedBytes.get({ reason: "budget" }),
      skipped: skipped.get({ reason: "budget" }) + skipped.get({ reason: "backlog" }),
      // With memory at 8 MiB too, the newest page may be a memory hit; KV holds it either way.
      lastPageHit: last.headers.get("x-cache") === "HIT",
    };
  } finally {
    await server.shutdown();
    await edge.close();
    kv.close();
    await origin.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

const mib = (n: number) => `${(n / MiB).toFixed(2)} MiB`;

if (import.meta.main) {
  const pages = arg("pages", 400);
  const size = arg("size", 65536);
  const budget = arg("budget-mib", 8) * MiB;
  const bounded = await flood(budget, pages, size);
  const unbounded = await flood(1024 * 1024 * MiB, pages, size);
  const rows = [["cache.kv.maxBytes = " + mib(budget), bounded], [
    "no effective budget (1 TiB)",
    unbounded,
  ]] as const;
  const lines = [
    `### KV file after a cache-busting flood (${pages} distinct pages × ${size} bytes = ${
      mib(pages * size)
    })`,
    "",
    "| run | KV file (db + wal + shm) | db | wal | counted by the cache | entries in KV | evicted (budget) | kept out of KV | newest page still a hit |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...rows.map(([name, r]) =>
      `| ${name} | ${mib(r.file.total)} | ${mib(r.file.db)} | ${mib(r.file.wal)} | ${
        mib(r.counted)
      } | ${r.entries} | ${r.evictions} (${mib(r.evictedBytes)}) | ${r.skipped} | ${
        r.lastPageHit ? "yes" : "no"
      } |`
    ),
    "",
    "- The edge runs in this process with its KV in a SQLite file (as `deno task start` does " +
    "locally); 8 concurrent clients; the demo origin serves each page once.",
    "- SQLite does not give freed pages back to the file system: the file size is the peak " +
    "the budget allowed, and later writes reuse the freed pages.",
  ];
  const md = lines.join("\n");
  const path = await writeResult("kv_flood", { bounded, unbounded }, md);
  console.log(md);
  console.log(`\nwritten: ${path}`);
}

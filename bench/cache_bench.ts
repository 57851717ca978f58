/**
 * Micro-benchmarks of the cache: the freshness decision, the memory tier, and a memory hit
 * through the whole `edge.fetch` chain (context, fast path, response, stamp) without a socket.
 */

import { createApp } from "../lib/core/app.ts";
import { ManualClock } from "../lib/core/clock.ts";
import { loadConfig } from "../lib/core/config.ts";
import { parseRequestDirectives } from "../lib/features/cache/directives.ts";
import { decide, storagePolicy } from "../lib/features/cache/freshness.ts";
import { makeItem, MemoryTier } from "../lib/features/cache/memory.ts";
import { serveItem } from "../lib/features/cache/respond.ts";
import type { StoredEntry } from "../lib/features/cache/entry.ts";

const NOW = Date.UTC(2026, 0, 1);
const timing = {
  responseTime: NOW,
  initialAgeMs: 0,
  freshMs: 60_000,
  swrMs: 30_000,
  sieMs: 300_000,
  noCache: false,
  mustRevalidate: false,
  sMaxAge: false,
  authOk: true,
  keepMs: 0,
};
const none = parseRequestDirectives(null);
const headers = new Headers({
  date: new Date(NOW).toUTCString(),
  "cache-control": "public, max-age=60, stale-while-revalidate=30, stale-if-error=300",
  etag: '"abc"',
  "last-modified": new Date(NOW - 86_400_000).toUTCString(),
});

Deno.bench("decide() on a fresh entry", { group: "freshness" }, () => {
  decide(timing, NOW + 10_000, none);
});
Deno.bench("decide() with request directives", { group: "freshness" }, () => {
  decide(timing, NOW + 70_000, parseRequestDirectives("max-age=30, max-stale=60"));
});
Deno.bench("storagePolicy() of a typical response", { group: "freshness" }, () => {
  storagePolicy(
    { status: 200, headers, authorization: false, requestTime: NOW, responseTime: NOW },
    {
      defaultStaleWhileRevalidateSeconds: 0,
      defaultStaleIfErrorSeconds: 0,
      heuristicFraction: 0.1,
      heuristicMaxSeconds: 86400,
      maxTtlSeconds: 31536000,
      keepStaleSeconds: 86400,
    },
  );
});

function entry(key: string, size: number): StoredEntry {
  return {
    key,
    variant: "",
    status: 200,
    headers: [["content-type", "application/json"], ["etag", '"abc"'], [
      "cache-control",
      "public, max-age=60",
    ]],
    timing,
    vary: [],
    tags: [],
    size,
    version: "v",
    chunks: 0,
  };
}

const body = new TextEncoder().encode(
  JSON.stringify({ path: "/cacheable/bench", version: 1, note: "x" }),
);
const tier = new MemoryTier({ maxBytes: 8 * 1024 * 1024 });
for (let i = 0; i < 1000; i++) tier.setEntry(makeItem(entry(`h/p${i}`, body.length), body));
const item = makeItem(entry("h/bench", body.length), body);
tier.setEntry(item);
let n = 0;

Deno.bench("MemoryTier.get() hit", { group: "memory" }, () => {
  tier.get("h/bench");
});
Deno.bench("MemoryTier.setEntry() with eviction (8 MiB budget)", { group: "memory" }, () => {
  tier.setEntry(makeItem(entry(`h/new${n++}`, 4096), new Uint8Array(4096)));
});
Deno.bench("serveItem() builds a hit response", { group: "memory" }, () => {
  serveItem(item, {
    head: false,
    ageSeconds: 3,
    cacheStatus: "Outpost; hit; ttl=57",
    outcome: "HIT",
  });
});

const clock = new ManualClock(NOW);
const kv = await Deno.openKv(":memory:");
const config = loadConfig({
  env: { KV_PATH: ":memory:", DEMO_ORIGIN: "internal", LOG_LEVEL: "error" },
});
const edge = createApp({ config, kv, clock });
const url = "http://127.0.0.1:8000/cacheable/bench?max_age=3600";
await (await edge.fetch(new Request(url))).text();
await edge.cache!.settled();
const check = await edge.fetch(new Request(url));
if (check.headers.get("x-cache") !== "HIT") throw new Error("not a hit");

Deno.bench("edge.fetch() memory hit, whole chain", { group: "chain", baseline: true }, () => {
  edge.fetch(new Request(url));
});
Deno.bench("new Response() hello world (floor)", { group: "chain" }, () => {
  new Request(url);
  new Response("hello world");
});
Deno.bench("edge.fetch() /_edge/health", { group: "chain" }, () => {
  edge.fetch(new Request("http://127.0.0.1:8000/_edge/health"));
});

const fastReq = new Request(url);
void fastReq.headers.get("x-request-id");
Deno.bench("EdgeCache.fastHit() alone", { group: "fast path" }, () => {
  edge.cache!.fastHit(fastReq, { cacheOutcome: undefined } as never);
});
Deno.bench("new Response(body) + 10 header appends", { group: "fast path" }, () => {
  const r = new Response("x");
  for (let i = 0; i < 10; i++) r.headers.append(`x-h${i}`, "value");
});

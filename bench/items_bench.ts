/**
 * Items micro-benchmarks through the app's fetch handler (no sockets): a GET answered from
 * the node's memory, a GET that reads the central copy in `:memory:` KV, and a PUT (atomic
 * versioned write with its change record).
 * Run: deno bench --allow-all bench/items_bench.ts
 */

import { createApp } from "../lib/core/app.ts";
import { ManualClock } from "../lib/core/clock.ts";
import { loadConfig } from "../lib/core/config.ts";

const config = loadConfig({
  env: { KV_PATH: ":memory:", DEMO_ORIGIN: "off", ORIGIN_URL: "http://127.0.0.1:9" },
});
const kv = await Deno.openKv(":memory:");
const edge = createApp({ config, kv, clock: new ManualClock(Date.now()) });
const body = JSON.stringify({ title: "A document", tags: ["a", "b"], n: 42 });

async function send(method: string, path: string, payload?: string): Promise<Response> {
  const res = await edge.fetch(
    new Request(`http://bench${path}`, {
      method,
      headers: payload ? { "content-type": "application/json" } : {},
      body: payload,
    }),
  );
  await res.body?.cancel();
  return res;
}

for (let i = 0; i < 1000; i++) await send("PUT", `/items/doc-${i}`, body);
await edge.jobs.runNow("items-changes");
await send("GET", "/items/hot");
await send("PUT", "/items/hot", body);
let i = 0;

Deno.bench(
  "GET /items/:id from memory (X-Source: edge)",
  { group: "items", baseline: true },
  async () => {
    await send("GET", "/items/hot");
  },
);
Deno.bench("GET /items/:id from KV (X-Source: central)", { group: "items" }, async () => {
  edge.data.items.cache.clear();
  await send("GET", `/items/doc-${i++ % 1000}`);
});
Deno.bench("PUT /items/:id (atomic write + change record)", { group: "items" }, async () => {
  await send("PUT", `/items/doc-${i++ % 1000}`, body);
});

globalThis.addEventListener("unload", () => kv.close());

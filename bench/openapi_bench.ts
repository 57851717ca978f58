/**
 * The API docs must not cost the hot paths anything: `/_edge/health` with the docs routes on and
 * off, and what building and serving the document costs. Run: deno bench -A bench/openapi_bench.ts
 */

import { createApp } from "../lib/core/app.ts";
import { ManualClock } from "../lib/core/clock.ts";
import { buildApiDocument } from "../lib/features/docs/openapi/document.ts";
import { deadOrigin, makeConfig } from "../tests/helpers.ts";

const kv = await Deno.openKv(":memory:");
const clock = new ManualClock(Date.UTC(2026, 0, 1));
function edge(docs: boolean) {
  return createApp({ config: makeConfig(deadOrigin(), { docs: { enabled: docs } }), kv, clock });
}
const on = edge(true);
const off = edge(false);
const health = new Request("http://edge.test/_edge/health");
const spec = new Request("http://edge.test/_edge/openapi.json");
await (await on.fetch(spec)).text(); // built once, before measuring

async function drain(res: Response | Promise<Response>): Promise<void> {
  await (await res).body?.cancel();
}

Deno.bench("GET /_edge/health, docs off", { group: "health", baseline: true }, async () => {
  await drain(off.fetch(health));
});

Deno.bench("GET /_edge/health, docs on", { group: "health" }, async () => {
  await drain(on.fetch(health));
});

Deno.bench("GET /_edge/openapi.json (built)", async () => {
  await drain(on.fetch(spec));
});

Deno.bench("buildApiDocument() (the first request's cost)", async () => {
  await buildApiDocument({
    config: on.config,
    routers: [on.routers.edge, on.routers.main],
    protects: null,
  });
});

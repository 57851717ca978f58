/**
 * What start-up loads before the node listens: every module main.ts reaches through static
 * imports and the `import()`s that run at start (tests/_graph.ts).
 * The first `node:` module (or npm package that uses one, or the global `process`) loads Deno's
 * Node compatibility layer, about 35 ms of every cold start (docs/cold_start.md), so none may be
 * on that path; code that needs one loads it with `import()` when first needed.
 */
import assert from "node:assert/strict";
import { startupGraph } from "../_graph.ts";

/**
 * npm packages checked to load without Node compatibility (ES modules that import no `node:`
 * module and do not touch `process`). Another one on the start path must be checked first (time
 * `import()` of it after zod and hono, then of `node:crypto`: the layer's load shows on the first
 * to pay it), then added here, or loaded lazily.
 */
const NODE_FREE_NPM = [
  /^npm:\/zod@[^/]+$/,
  /^npm:\/hono@[^/]+(\/[a-z/-]+)?$/,
  /^npm:\/swagger-ui-dist@[^/]+\/package\.json$/, // a JSON import: its version only
];

Deno.test("start-up loads no node: module and no npm package that would", async () => {
  const graph = [...await startupGraph("main.ts")];
  assert.ok(
    graph.some((s) => s.endsWith("/lib/features/cache/edge_cache.ts")),
    "features are seen",
  );
  assert.deepEqual(graph.filter((s) => s.startsWith("node:")), [], "node: modules");
  const npm = graph.filter((s) => s.startsWith("npm:"));
  assert.ok(npm.some((s) => s.startsWith("npm:/zod@")), "npm packages are seen");
  assert.deepEqual(npm.filter((s) => !NODE_FREE_NPM.some((ok) => ok.test(s))), [], "npm packages");
});

import assert from "node:assert/strict";
import { startupGraph } from "../../_graph.ts";

Deno.test("The API document's machinery is not loaded at start-up", async () => {
  const graph = [...await startupGraph("lib/core/app.ts")];
  const loaded = (pattern: RegExp) => graph.filter((s) => pattern.test(s));
  assert.ok(loaded(/\/lib\/platform\/http\/route_doc\.ts$/).length === 1, "descriptions are");
  assert.deepEqual(loaded(/hono-openapi|zod-openapi|@standard-community/), [], "the library");
  assert.deepEqual(loaded(/\/lib\/features\/docs\/openapi\//), [], "the generator");
  assert.deepEqual(loaded(/\/lib\/features\/[a-z_/]+\/responses\.ts$/), [], "answer schemas");
});

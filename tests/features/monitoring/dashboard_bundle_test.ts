import assert from "node:assert/strict";
import { buildDashboard, BUNDLE_URL, bundleText } from "../../../tools/build_dashboard.ts";

Deno.test("the committed dashboard bundle is what esbuild builds from the sources", async () => {
  const built = bundleText(await buildDashboard());
  const committed = await Deno.readTextFile(BUNDLE_URL);
  assert.ok(
    built === committed,
    "lib/features/monitoring/dashboard/bundle.json is stale: run `deno task dashboard` and commit it",
  );
  const bundle = JSON.parse(committed) as { js: string; css: string };
  assert.match(bundle.css, /\.uplot/, "uPlot's stylesheet is in the bundle");
  assert.match(bundle.css, /prefers-color-scheme: ?dark/);
});

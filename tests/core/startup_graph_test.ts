/**
 * What start-up loads before `main()` runs: every module main.ts reaches through static imports.
 * The first `node:` module (or npm package that uses one, or the global `process`) loads Deno's
 * Node compatibility layer, about 35 ms of every cold start (docs/cold_start.md), so none may be
 * on that path; code that needs one loads it with `import()` when first needed.
 */
import assert from "node:assert/strict";

interface Info {
  modules: Array<{
    specifier: string;
    dependencies?: Array<{ specifier: string; isDynamic?: boolean; code?: { specifier: string } }>;
  }>;
  redirects: Record<string, string>;
}

/** Modules whose `import()`s all happen before main.ts listens. */
const LOADED_AT_START = ["main.ts", "lib/core/registry.ts"];

/**
 * Every specifier main.ts loads before it listens: static imports, and the `import()`s of the
 * modules in {@linkcode LOADED_AT_START} (main.ts's of the app, the registry's of each feature's
 * implementation), transitively.
 */
async function startupGraph(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: new URL("../../", import.meta.url),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "deno info failed");
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const atStart = (specifier: string) => LOADED_AT_START.some((m) => specifier.endsWith(`/${m}`));
  const seen = new Set<string>();
  const todo = [info.modules.find((m) => m.specifier.endsWith(`/${entry}`))!.specifier];
  while (todo.length > 0) {
    const next = todo.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    for (const dep of bySpecifier.get(next)?.dependencies ?? []) {
      if (dep.code && (!dep.isDynamic || atStart(next))) {
        todo.push(info.redirects[dep.code.specifier] ?? dep.code.specifier);
      }
    }
  }
  return seen;
}

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

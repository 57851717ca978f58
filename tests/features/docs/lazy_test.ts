import assert from "node:assert/strict";

interface Info {
  modules: Array<{
    specifier: string;
    dependencies?: Array<{ isDynamic?: boolean; code?: { specifier: string } }>;
  }>;
}

/** Every module `entry` loads before it runs: its static imports, transitively. */
async function staticGraph(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: new URL("../../../", import.meta.url),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "deno info failed");
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [info.modules.find((m) => m.specifier.endsWith(entry))!.specifier];
  while (todo.length > 0) {
    const next = todo.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    for (const dep of bySpecifier.get(next)?.dependencies ?? []) {
      if (!dep.isDynamic && dep.code) todo.push(dep.code.specifier);
    }
  }
  return seen;
}

Deno.test("The API document's machinery is not loaded at start-up", async () => {
  const graph = [...await staticGraph("lib/core/app.ts")];
  const loaded = (pattern: RegExp) => graph.filter((s) => pattern.test(s));
  assert.ok(loaded(/\/lib\/platform\/http\/route_doc\.ts$/).length === 1, "descriptions are");
  assert.deepEqual(loaded(/hono-openapi|zod-openapi|@standard-community/), [], "the library");
  assert.deepEqual(loaded(/\/lib\/features\/docs\/openapi\//), [], "the generator");
  assert.deepEqual(loaded(/\/lib\/features\/[a-z_/]+\/responses\.ts$/), [], "answer schemas");
});

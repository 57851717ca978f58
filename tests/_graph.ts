/** The module graph a module loads before it runs, from `deno info --json` (start-up tests). */
import assert from "node:assert/strict";

interface Info {
  modules: Array<{
    specifier: string;
    dependencies?: Array<{ isDynamic?: boolean; code?: { specifier: string } }>;
  }>;
  redirects: Record<string, string>;
}

/**
 * Modules whose `import()`s all run as they load: main.ts's (the app, while the config is read)
 * and the registry's (each feature's implementation, awaited by lib/core/features.ts).
 */
export const LOADED_AT_START = ["main.ts", "lib/core/registry.ts"];

/**
 * Every specifier `entry` (a path from the repository's root) loads before it runs: static
 * imports, and the `import()`s of the modules in {@linkcode LOADED_AT_START}, transitively.
 */
export async function startupGraph(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: new URL("../", import.meta.url),
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

/**
 * Writes `deploy.lock`: `deno.lock` cut down to the npm packages `main.ts` imports (and theirs).
 *
 * Deno installs every npm package of a lockfile's snapshot as soon as one is needed (even
 * `deno run` of one file does), so with `deno.lock` a deployment would download the development
 * tools too (assemblyscript with binaryen, esbuild-wasm, playwright-core, fast-check, uplot). The
 * deploy's install step (`deno.json` → `deploy.install`) puts this file in `deno.lock`'s place
 * before `deno install --frozen --entrypoint main.ts`: the versions are deno.lock's own, only the
 * packages `main.ts` never reaches are left out.
 *
 *     deno task deploy:lock           # rewrite deploy.lock from deno.lock
 *     deno task deploy:lock --check   # fail when it is not current (deno task check runs this)
 */

const ROOT = new URL("../", import.meta.url);

/** `deno.lock` as far as this tool reads it. */
export interface Lockfile {
  version: string;
  specifiers?: Record<string, string>;
  npm?: Record<string, unknown>;
  [key: string]: unknown;
}

/** What `deno info --json` says of an entry point's graph (the parts used here). */
export interface ModuleGraph {
  modules: Array<{ kind?: string; npmPackage?: string }>;
  npmPackages: Record<string, { dependencies?: string[] }>;
}

/** The graph of `entry` (a path under the project), from `deno info --json`. */
export async function moduleGraph(entry = "main.ts"): Promise<ModuleGraph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Every npm package id (`name@version[_peers]`) the graph reaches, its dependencies included. */
export function reachedPackages(graph: ModuleGraph): Set<string> {
  const reached = new Set<string>();
  const queue = graph.modules.flatMap((m) =>
    m.kind === "npm" && m.npmPackage ? [m.npmPackage] : []
  );
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    for (const dep of graph.npmPackages[id]?.dependencies ?? []) queue.push(dep);
  }
  return reached;
}

/** The package name of an id or specifier value (`@scope/name@1.0.0_peer@2` → `@scope/name`). */
function nameOf(id: string): string {
  return id.slice(0, id.indexOf("@", 1));
}

/** `lock` with only the npm packages in `keep` (and the specifiers resolving to them). */
export function deployLock(lock: Lockfile, keep: ReadonlySet<string>): Lockfile {
  const out: Lockfile = { ...lock };
  if (lock.specifiers) {
    out.specifiers = Object.fromEntries(
      Object.entries(lock.specifiers).filter(([specifier, resolved]) => {
        if (!specifier.startsWith("npm:")) return true;
        return keep.has(`${nameOf(specifier.slice(4))}@${resolved}`);
      }),
    );
  }
  if (lock.npm) {
    out.npm = Object.fromEntries(Object.entries(lock.npm).filter(([id]) => keep.has(id)));
  }
  return out;
}

/** The text `deploy.lock` should have now (formatted as Deno writes lockfiles). */
export async function expectedDeployLock(): Promise<string> {
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT))) as Lockfile;
  const keep = reachedPackages(await moduleGraph("main.ts"));
  return JSON.stringify(deployLock(lock, keep), null, 2) + "\n";
}

if (import.meta.main) {
  const path = new URL("deploy.lock", ROOT);
  const expected = await expectedDeployLock();
  if (Deno.args.includes("--check")) {
    let current = "";
    try {
      current = await Deno.readTextFile(path);
    } catch {
      // missing: reported below
    }
    if (current !== expected) {
      console.error("deploy.lock is not current: run `deno task deploy:lock` and commit it");
      Deno.exit(1);
    }
  } else {
    await Deno.writeTextFile(path, expected);
    console.log("wrote deploy.lock");
  }
}

import assert from "node:assert/strict";
import {
  deployLock,
  expectedDeployLock,
  type Lockfile,
  moduleGraph,
  reachedPackages,
} from "../../tools/deploy_lock.ts";

const ROOT = new URL("../../", import.meta.url);
/** Packages only development uses: tests, benchmarks, the WASM and dashboard builds. */
const DEV_ONLY = [
  "assemblyscript",
  "binaryen",
  "esbuild-wasm",
  "fast-check",
  "playwright-core",
  "pure-rand",
  "uplot",
];

function nameOf(id: string): string {
  return id.slice(0, id.indexOf("@", 1));
}

Deno.test("deno.json deploys main.ts with only what main.ts imports", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  assert.deepEqual(config.deploy.runtime, { type: "dynamic", entrypoint: "./main.ts" });
  // The deployed lockfile replaces deno.lock before a frozen install of main.ts's graph.
  assert.equal(
    config.deploy.install,
    "cp deploy.lock deno.lock && deno install --frozen --entrypoint main.ts",
  );
});

Deno.test("main.ts's module graph reaches no development package", async () => {
  const graph = await moduleGraph("main.ts");
  const reached = [...reachedPackages(graph)].map(nameOf);
  assert.ok(reached.includes("hono"), "the graph is read (hono is reached)");
  for (const dev of DEV_ONLY) assert.ok(!reached.includes(dev), `${dev} is reached from main.ts`);
});

Deno.test("deploy.lock is deno.lock without the development packages, and current", async () => {
  const text = await Deno.readTextFile(new URL("deploy.lock", ROOT));
  assert.equal(text, await expectedDeployLock(), "run `deno task deploy:lock`");
  const deploy = JSON.parse(text) as Lockfile;
  const full = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT))) as Lockfile;
  const kept = Object.keys(deploy.npm ?? {});
  for (const id of kept) {
    assert.ok(!DEV_ONLY.includes(nameOf(id)), `${id} is deployed`);
    assert.deepEqual(deploy.npm![id], full.npm![id], `${id} is pinned as in deno.lock`);
  }
  for (const dev of DEV_ONLY) {
    assert.ok(Object.keys(full.npm ?? {}).some((id) => nameOf(id) === dev), `${dev} in deno.lock`);
  }
});

Deno.test("deployLock() keeps the packages asked for and the specifiers resolving to them", () => {
  const lock: Lockfile = {
    version: "5",
    specifiers: { "npm:a@1": "1.0.0", "npm:@s/b@2": "2.0.0_a@1.0.0", "npm:dev@3": "3.0.0" },
    npm: {
      "a@1.0.0": { integrity: "x" },
      "@s/b@2.0.0_a@1.0.0": { integrity: "y", dependencies: ["a"] },
      "dev@3.0.0": { integrity: "z" },
    },
    workspace: { dependencies: ["npm:a@1", "npm:@s/b@2", "npm:dev@3"] },
  };
  const out = deployLock(lock, new Set(["a@1.0.0", "@s/b@2.0.0_a@1.0.0"]));
  assert.deepEqual(out.specifiers, { "npm:a@1": "1.0.0", "npm:@s/b@2": "2.0.0_a@1.0.0" });
  assert.deepEqual(Object.keys(out.npm!), ["a@1.0.0", "@s/b@2.0.0_a@1.0.0"]);
  assert.deepEqual(out.workspace, lock.workspace, "the workspace section matches deno.json");
});

/**
 * From files to routes: names to routes, manifests refused at start-up, the generator, the
 * committed manifest being current, and the watcher that keeps it current under `deno task dev`.
 */

import assert from "node:assert/strict";
import { createApp } from "../../../lib/core/app.ts";
import { ConfigError } from "../../../lib/platform/config/errors.ts";
import { manifestOf } from "../../../lib/features/functions/feature.ts";
import {
  isFunctionPath,
  manifestIsCurrent,
  manifestSource,
  scanFunctions,
  writeManifest,
} from "../../../lib/features/functions/generate.ts";
import {
  compileManifest,
  ManifestError,
  routeOf,
} from "../../../lib/features/functions/manifest.ts";
import type { FunctionModule } from "../../../lib/features/functions/types.ts";
import { watchManifest } from "../../../lib/features/functions/watch.ts";
import { memoryLogger } from "../../../lib/core/log.ts";
import { makeConfig } from "../../helpers.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const get: FunctionModule = { GET: () => new Response("x") };

Deno.test("routeOf() maps file names to Hono routes", () => {
  const table: Array<[string, string]> = [
    ["hello", "/hello"],
    ["index", "/"],
    ["api/users/index", "/api/users"],
    ["api/users/[id]", "/api/users/:id"],
    ["shop/[shop]/items/[item]", "/shop/:shop/items/:item"],
    ["files/[...path]", "/files/:path{.+}"],
    ["v1.2/health-check", "/v1.2/health-check"],
  ];
  for (const [name, route] of table) assert.equal(routeOf(name).route, route, name);
  for (const bad of ["a//b", "a b", "[...rest]/x", "[1x]", "a/[id]/[id]", "a?b"]) {
    assert.throws(() => routeOf(bad), ManifestError, bad);
  }
});

Deno.test("compileManifest() refuses what the edge must not start with", async (t) => {
  const refuse = (functions: Record<string, unknown>, message: RegExp) =>
    assert.throws(
      () =>
        compileManifest({ dir: "functions", functions: functions as never }, { timeoutMs: 100 }),
      (e: Error) => e instanceof ManifestError && message.test(e.message),
    );
  await t.step("routes under the edge's own prefixes", () => {
    refuse({ "items/[id]": get }, /items\/\[id\]: Its route \/items\/:id is under \/items/);
    refuse({ "_edge/x": get }, /Not a function name/);
    refuse({ "Events/index": get }, /under \/events/);
    refuse({ crdt: get }, /under \/crdt/);
  });
  await t.step("two files for one route", () => {
    refuse({ "a/[x]": get, "a/[y]": get }, /Same route as a\/\[x\]: \/a\/:y/);
    refuse({ a: get, "a/index": get }, /Same route as a: \/a/);
  });
  await t.step("exports no one would call", () => {
    refuse({ a: { Get: () => new Response() } }, /a: Export Get must be spelt GET/);
    refuse({ a: { GET: "x" } }, /Export GET must be a function/);
    refuse({ a: { helper: () => 1 } }, /No handler/);
    refuse({ a: { default: 1 } }, /default export must be a function/);
  });
  await t.step("a bad config export", () => {
    refuse({ a: { ...get, config: { timeoutMs: 0 } } }, /a: config\.timeoutMs/);
    refuse({ a: { ...get, config: { kv: "no spaces" } } }, /a: config\.kv/);
    refuse({ a: { ...get, config: { timeout: 5 } } }, /a: config: Unrecognized key/);
  });
});

Deno.test("compileManifest() orders static routes before parameters and a rest last", () => {
  const compiled = compileManifest({
    dir: "functions",
    functions: {
      "[...all]": get,
      "users/[id]": get,
      "users/me": get,
      "users/[id]/posts": get,
      "[page]": get,
    },
  }, { timeoutMs: 100 });
  // Static segments first, segment by segment; routes that cannot match the same path may
  // come in any order.
  assert.deepEqual(compiled.map((f) => f.route), [
    "/users/me",
    "/users/:id",
    "/users/:id/posts",
    "/:page",
    "/:all{.+}",
  ]);
});

Deno.test("createApp() stops with a ConfigError naming the manifest and the file", () => {
  const config = makeConfig("http://127.0.0.1:1");
  assert.throws(
    () =>
      createApp({
        config,
        kv: {} as Deno.Kv,
        functions: { dir: "functions", functions: { "items/x": get } },
      }),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message.startsWith("Invalid functions manifest (functions/_manifest.ts): items/x: "),
  );
});

async function withProject(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "outpost-functions-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return root;
}

const HANDLER = "export function GET() { return new Response('x'); }\n";

Deno.test("the generator finds function files and writes a static manifest", async (t) => {
  const root = await withProject({
    "fns/hello.ts": HANDLER,
    "fns/api/users/[id].ts": HANDLER,
    "fns/api/index.js": HANDLER,
    "fns/_lib/helpers.ts": "export const x = 1;\n",
    "fns/_shared.ts": "export const y = 1;\n",
    "fns/hello_test.ts": "",
    "fns/hello.test.ts": "",
    "fns/.hidden.ts": "",
    "fns/types.d.ts": "",
    "fns/README.md": "# notes\n",
  });
  try {
    await t.step("which files are functions", () => {
      assert.equal(isFunctionPath("a/b.ts"), true);
      assert.equal(isFunctionPath("a/_b.ts"), false);
      assert.equal(isFunctionPath("_a/b.ts"), false);
      assert.equal(isFunctionPath("b_test.ts"), false);
      assert.equal(isFunctionPath("b.json"), false);
    });
    await t.step("the manifest text", async () => {
      const write = await writeManifest("fns", { root });
      assert.equal(write.changed, true);
      assert.deepEqual(write.files.map((f) => f.name), ["api/index", "api/users/[id]", "hello"]);
      assert.equal(
        await Deno.readTextFile(`${root}/fns/_manifest.ts`),
        manifestSource("fns", write.files),
      );
      const text = await Deno.readTextFile(`${root}/fns/_manifest.ts`);
      assert.match(text, /import \* as \$1 from "\.\/api\/users\/\[id\]\.ts";/);
      assert.match(text, /"api\/users\/\[id\]": \$1,/);
      assert.match(text, /dir: "fns",/);
    });
    await t.step("unchanged input: the file is not touched", async () => {
      const before = (await Deno.stat(`${root}/fns/_manifest.ts`)).mtime;
      const write = await writeManifest("fns", { root });
      assert.equal(write.changed, false);
      assert.deepEqual((await Deno.stat(`${root}/fns/_manifest.ts`)).mtime, before);
      assert.equal(await manifestIsCurrent("fns", { root }), true);
    });
    await t.step("a new file makes it out of date", async () => {
      await Deno.writeTextFile(`${root}/fns/bye.ts`, HANDLER);
      assert.equal(await manifestIsCurrent("fns", { root }), false);
    });
    await t.step(
      "file names that are no route, or two files for one name, are refused",
      async () => {
        await Deno.writeTextFile(`${root}/fns/bye.js`, HANDLER);
        await assert.rejects(() => scanFunctions(`${root}/fns`), /Two files for one function/);
        await Deno.remove(`${root}/fns/bye.js`);
        await Deno.writeTextFile(`${root}/fns/no good.ts`, HANDLER);
        await assert.rejects(() => scanFunctions(`${root}/fns`), /no good: Not a route segment/);
      },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the committed manifests (functions/, examples/functions/) are current", async () => {
  for (const dir of ["functions", "examples/functions"]) {
    assert.equal(
      await manifestIsCurrent(dir, { root: ROOT }),
      true,
      `${dir}/_manifest.ts is out of date: run deno task functions --dir ${dir}`,
    );
  }
});

/** Resolves with the next value `subscribe` delivers, or rejects after a generous bound. */
function next<T>(queue: T[], waiters: Array<(v: T) => void>): Promise<T> {
  const ready = queue.shift();
  if (ready !== undefined) return Promise.resolve(ready);
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    new Promise<T>((resolve) => waiters.push(resolve)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no file event within 20 s")), 20_000);
    }),
  ]).finally(() => clearTimeout(timer));
}

Deno.test("watchManifest() regenerates the manifest when a function is added, broken or removed", async (t) => {
  const root = await withProject({ "fns/hello.ts": HANDLER });
  await writeManifest("fns", { root });
  const writes: string[][] = [];
  const errors: unknown[] = [];
  const writeWaiters: Array<(v: string[]) => void> = [];
  const errorWaiters: Array<(v: unknown) => void> = [];
  const log = memoryLogger();
  const watcher = watchManifest("fns", {
    root,
    log,
    debounceMs: 20,
    onWrite(write) {
      const names = write.files.map((f) => f.name);
      const waiter = writeWaiters.shift();
      if (waiter) waiter(names);
      else writes.push(names);
    },
    onError(error) {
      const waiter = errorWaiters.shift();
      if (waiter) waiter(error);
      else errors.push(error);
    },
  });
  const manifest = () => Deno.readTextFile(`${root}/fns/_manifest.ts`);
  try {
    await t.step("a new file appears in the manifest", async () => {
      await Deno.mkdir(`${root}/fns/api`);
      await Deno.writeTextFile(`${root}/fns/api/new.ts`, HANDLER);
      let names = await next(writes, writeWaiters);
      while (!names.includes("api/new")) names = await next(writes, writeWaiters);
      assert.deepEqual(names, ["api/new", "hello"]);
      assert.match(await manifest(), /"api\/new": \$0,/);
    });
    await t.step("a file name that is no route is logged; the manifest stays", async () => {
      const before = await manifest();
      await Deno.writeTextFile(`${root}/fns/bad name.ts`, HANDLER);
      const error = await next(errors, errorWaiters);
      assert.match(String(error), /bad name: Not a route segment/);
      assert.equal(await manifest(), before);
      assert.ok(
        log.lines.some((l) => String(l.msg).startsWith("functions manifest not regenerated")),
      );
      await Deno.remove(`${root}/fns/bad name.ts`);
    });
    await t.step("a removed file leaves the manifest", async () => {
      await Deno.remove(`${root}/fns/api/new.ts`);
      let names = await next(writes, writeWaiters);
      while (names.includes("api/new")) names = await next(writes, writeWaiters);
      assert.deepEqual(names, ["hello"]);
      assert.doesNotMatch(await manifest(), /api\/new/);
    });
  } finally {
    await watcher.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a generated manifest compiles into routes", async () => {
  const root = await withProject({ "fns/api/users/[id].ts": HANDLER, "fns/index.ts": HANDLER });
  try {
    await writeManifest("fns", { root });
    const mod = await import(`file://${root}/fns/_manifest.ts`);
    const compiled = compileManifest(mod.default, { timeoutMs: 100 });
    assert.deepEqual(compiled.map((f) => [f.name, f.route]), [
      ["index", "/"],
      ["api/users/[id]", "/api/users/:id"],
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("manifestOf() uses the bundled manifest for its folder, else imports <dir>/_manifest.ts", async (t) => {
  const bundled = { dir: "functions", functions: {} };
  await t.step("the bundled one", async () => {
    assert.equal(await manifestOf("functions", bundled), bundled);
  });
  // A folder under the project (the import map must apply), relative to the working directory.
  const dir = `.data/functions-test-${crypto.randomUUID().slice(0, 8)}`;
  const root = Deno.cwd();
  await Deno.mkdir(`${root}/${dir}`, { recursive: true });
  try {
    await t.step("another folder: imported from the file system", async () => {
      await Deno.writeTextFile(`${root}/${dir}/ping.ts`, HANDLER);
      await writeManifest(dir, { root });
      const manifest = await manifestOf(dir, bundled);
      assert.equal(manifest.dir, dir);
      assert.deepEqual(Object.keys(manifest.functions), ["ping"]);
    });
    await t.step("a folder without a manifest stops start-up, saying what to run", async () => {
      await assert.rejects(
        () => manifestOf(`${dir}/none`, bundled),
        (e: Error) =>
          e instanceof ConfigError &&
          e.message.includes(
            `functions.dir (${dir}/none): Cannot import ${dir}/none/_manifest.ts`,
          ) &&
          e.message.includes(`deno task functions --dir ${dir}/none`),
      );
    });
  } finally {
    await Deno.remove(`${root}/${dir}`, { recursive: true });
  }
});

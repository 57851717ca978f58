/**
 * `deno task dev`: the edge under `deno run --watch`, with the functions manifest kept current,
 * after `main.ts --check` (a bad config or a busy port exits 1 at once).
 * The manifest is regenerated first, then on every change under the functions folder; the
 * watched edge restarts when the manifest (or any file it imports) changes. The watcher lives in
 * this parent process, so it keeps working while the edge is down on a syntax error.
 */

import { createLogger } from "../lib/core/log.ts";
import { writeManifest } from "../lib/features/functions/generate.ts";
import { watchManifest } from "../lib/features/functions/watch.ts";
import { functionsDir } from "./functions.ts";

/** How long the edge may take to shut down before it is killed. */
const STOP_TIMEOUT_MS = 20_000;

const EDGE_ARGS = [
  "run",
  "--watch",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
  "main.ts",
];

async function main(): Promise<number> {
  const log = createLogger({ fields: { tool: "dev" } });
  const dir = functionsDir(undefined);
  try {
    const write = await writeManifest(dir);
    log.info("functions manifest ready", {
      path: write.path,
      functions: write.files.map((f) => f.name),
    });
  } catch (error) {
    log.error("functions manifest not generated; fix the file names and save", { dir, error });
  }
  // What start-up would refuse (a bad config, a busy port) ends `deno task dev` here, with its
  // one-line reason and exit 1: under --watch the edge would fail and the watcher wait instead.
  const check = await new Deno.Command(Deno.execPath(), {
    args: [...EDGE_ARGS.filter((a) => a !== "--watch"), ...Deno.args, "--check"],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (check.code !== 0) return check.code;
  const watcher = watchManifest(dir, { log });
  const child = new Deno.Command(Deno.execPath(), {
    args: [...EDGE_ARGS, ...Deno.args],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // `deno run --watch` outlives the edge it runs: after the edge's own clean shutdown it waits
  // for file changes. So on Ctrl-C or SIGTERM the watcher is sent SIGTERM until it is gone (the
  // edge ignores repeats while it shuts down), and killed if it lingers.
  let stopping: ReturnType<typeof setInterval> | undefined;
  const stop = () => {
    if (stopping !== undefined) return;
    const started = Date.now();
    const nudge = () => {
      try {
        child.kill(Date.now() - started > STOP_TIMEOUT_MS ? "SIGKILL" : "SIGTERM");
      } catch {
        clearInterval(stopping); // already gone
      }
    };
    nudge();
    stopping = setInterval(nudge, 500);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // not deliverable on this platform
    }
  }
  const status = await child.status;
  clearInterval(stopping);
  await watcher.close();
  return status.code;
}

if (import.meta.main) Deno.exit(await main());

/**
 * Generates the functions manifest: `deno task functions [--dir functions] [--check] [--watch]`.
 * `--check` writes nothing and fails when the manifest is out of date (CI, `deno task check`);
 * `--watch` keeps regenerating it while files change (what `deno task dev` runs).
 */

import { parseArgs } from "node:util";
import { createLogger } from "../lib/core/log.ts";
import { manifestIsCurrent, writeManifest } from "../lib/features/functions/generate.ts";
import { watchManifest } from "../lib/features/functions/watch.ts";

const USAGE = "Usage: deno task functions [--dir <folder>] [--check | --watch]";

/** The functions folder: `--dir`, else `FUNCTIONS_DIR`, else `functions`. */
export function functionsDir(flag: string | undefined): string {
  const dir = flag ?? Deno.env.get("FUNCTIONS_DIR") ?? "functions";
  return dir.replace(/^\.\//, "").replace(/\/+$/, "") || "functions";
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        dir: { type: "string" },
        check: { type: "boolean" },
        watch: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const dir = functionsDir(values.dir);
  try {
    if (values.check) {
      if (await manifestIsCurrent(dir)) return 0;
      console.error(`${dir}/_manifest.ts is out of date: run deno task functions`);
      return 1;
    }
    const write = await writeManifest(dir);
    console.log(
      `${write.path}: ${write.files.length} function(s)${write.changed ? "" : " (unchanged)"}`,
    );
  } catch (error) {
    console.error(`Cannot generate ${dir}/_manifest.ts: ${(error as Error).message}`);
    if (!values.watch) return 1;
  }
  if (!values.watch) return 0;
  const watcher = watchManifest(dir, { log: createLogger({ fields: { tool: "functions" } }) });
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      try {
        Deno.addSignalListener(signal, () => resolve());
      } catch {
        // not deliverable on this platform
      }
    }
  });
  await watcher.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main());

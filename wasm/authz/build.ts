/**
 * Builds the authorization module: `deno task build:wasm`. Runs the pinned AssemblyScript compiler
 * (from npm, locked in deno.lock) from this folder with fixed flags, so the committed
 * `authz.wasm` is reproducible byte for byte; CI rebuilds it and fails on any difference.
 */

import asc from "assemblyscript/asc";

/** Compiler flags; changing one changes the committed binary. */
export const ASC_FLAGS = [
  "assembly/index.ts",
  "--outFile",
  "authz.wasm",
  "-O3",
  "--runtime",
  "incremental",
  // The module's own cap; the host refuses modules whose declared maximum exceeds its limit.
  "--maximumMemory",
  "32",
  // No imports at all: a failed assertion traps (`unreachable`) instead of calling env.abort.
  "--use",
  "abort=",
];

async function main(): Promise<void> {
  const dir = new URL(".", import.meta.url).pathname;
  Deno.chdir(dir);
  const { error, stderr } = await asc.main(ASC_FLAGS);
  if (error) {
    console.error(stderr.toString());
    console.error(`Build failed: ${error.message}`);
    Deno.exit(1);
  }
  const bytes = await Deno.readFile("authz.wasm");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  console.log(`wasm/authz/authz.wasm: ${bytes.length} bytes, sha256 ${hex}`);
}

if (import.meta.main) await main();

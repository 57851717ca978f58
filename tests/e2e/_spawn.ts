/** Starting `main.ts` as a real process for end-to-end tests. */

const ROOT = new URL("../../", import.meta.url).pathname;

/** The permissions `deno task start` gives the edge. */
export const MAIN_PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
];

/** Spawns `deno run main.ts` from the project root with `env` (output piped unless "null"). */
export function spawnMain(
  env: Record<string, string>,
  output: "piped" | "null" = "piped",
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...MAIN_PERMISSIONS, "main.ts"],
    cwd: ROOT,
    env,
    stdout: output,
    stderr: output,
  }).spawn();
}

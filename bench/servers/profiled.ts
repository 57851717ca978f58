/**
 * Runs a benchmark server module (the first argument) so that `--cpu-prof` can write its profile:
 * the profile is written when the process exits normally, and a bare `Deno.serve` script dies on
 * SIGTERM without exiting. Used by bench/forward_profile.ts for the minimal Deno proxy.
 */

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => Deno.exit(0));
}
const module = Deno.args[0];
if (!module) throw new Error("usage: profiled.ts <server module>");
await import(new URL(module, `file://${Deno.cwd()}/`).href);

/**
 * The authorization module read and compiled off the main thread (`WebAssembly.compile`), so
 * that start-up overlaps it with opening KV and loading the app instead of compiling it in
 * `createAuthz`. A module that cannot be read or compiled here is left to `createAuthz`, which
 * meets the same failure and handles it as always (logged, counted, protected routes 503).
 */

/** The committed module. */
export const DEFAULT_WASM_URL = new URL("../../../wasm/authz/authz.wasm", import.meta.url);

/** A module's bytes and its compiled form. */
export interface CompiledPolicyModule {
  bytes: Uint8Array;
  module: WebAssembly.Module;
}

/** Reads and compiles the module at `path` (default: the committed one); null on failure. */
export async function precompilePolicyModule(
  path: string | URL | undefined,
): Promise<CompiledPolicyModule | null> {
  try {
    const bytes = await Deno.readFile(path ?? DEFAULT_WASM_URL);
    const module = await WebAssembly.compile(bytes);
    return { bytes, module };
  } catch {
    return null;
  }
}

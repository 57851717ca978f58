/** The `functions` section of the configuration and the environment variables that set it. */

import { z } from "zod";

/** The largest JSON text a function may store under one KV key (64 KiB minus bookkeeping). */
export const MAX_KV_VALUE_BYTES = 64 * 1024 - 64;

/** A project-relative folder: `functions`, `edge/functions` (no `..`, no absolute paths). */
const DirSchema = z.string().regex(
  /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/,
  "Must be a folder inside the project, like functions or edge/functions",
);

/** Users' edge functions (docs/functions.md). */
export const FunctionsConfigSchema = z.object({
  /** Mount the functions of the manifest (off: their paths go to the origin as before). */
  enabled: z.boolean().default(true),
  /** Where the function files and their generated `_manifest.ts` live. */
  dir: DirSchema.default("functions"),
  /** Time a call has to produce its response headers; past it the client gets a 504. */
  timeoutMs: z.number().int().min(1).max(300_000).default(10_000),
  /** Largest request body a function is given (declared or streamed); 413 past it. */
  maxBodyBytes: z.number().int().min(0).max(64 * 1024 * 1024).default(1024 * 1024),
  kv: z.object({
    /** Largest value (its JSON text, UTF-8) one `ctx.kv.put` may store. */
    maxValueBytes: z.number().int().min(16).max(MAX_KV_VALUE_BYTES).default(MAX_KV_VALUE_BYTES),
    /** Longest key (UTF-8 bytes). */
    maxKeyBytes: z.number().int().min(16).max(1024).default(512),
  }).prefault({}),
}).prefault({});

/** The validated `functions` section. */
export type FunctionsConfig = z.infer<typeof FunctionsConfigSchema>;

/** Environment variables of this feature, and the config field each sets. */
export const FUNCTIONS_ENV_VARS = {
  FUNCTIONS_ENABLED: "functions.enabled",
  FUNCTIONS_DIR: "functions.dir",
  FUNCTIONS_TIMEOUT_MS: "functions.timeoutMs",
} as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The `functions` input: the config module's section with the environment on top. Unparsable
 * values are pushed to `errors` in the loader's format (`NAME (field): reason`).
 */
export function functionsInput(
  file: Record<string, unknown>,
  env: Record<string, string | undefined>,
  errors: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = isRecord(file.functions) ? { ...file.functions } : {};
  const enabled = env.FUNCTIONS_ENABLED?.trim().toLowerCase();
  if (enabled) {
    if (["1", "true", "yes", "on"].includes(enabled)) out.enabled = true;
    else if (["0", "false", "no", "off"].includes(enabled)) out.enabled = false;
    else errors.push(`FUNCTIONS_ENABLED (functions.enabled): Not a boolean: ${enabled}`);
  }
  const dir = env.FUNCTIONS_DIR?.trim();
  if (dir) out.dir = dir.replace(/^\.\//, "").replace(/\/+$/, "");
  const timeout = env.FUNCTIONS_TIMEOUT_MS?.trim();
  if (timeout) {
    if (/^\d{1,9}$/.test(timeout)) out.timeoutMs = Number(timeout);
    else errors.push(`FUNCTIONS_TIMEOUT_MS (functions.timeoutMs): Not an integer: ${timeout}`);
  }
  return out;
}

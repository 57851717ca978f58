/** The `functions` section of the configuration and the environment variables that set it. */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";

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

/** The fields this feature owns. */
export const FUNCTIONS_FIELDS = {
  /** Users' edge functions (lib/features/functions, docs/functions.md). */
  functions: FunctionsConfigSchema,
};

/** Environment variables of this feature, and the config field each sets. */
export const FUNCTIONS_ENV: EnvTable = {
  FUNCTIONS_ENABLED: { path: "functions.enabled", kind: "bool" },
  FUNCTIONS_DIR: {
    path: "functions.dir",
    kind: "string",
    // `./functions/` names the same folder as `functions`.
    fields: (value) => ({
      "functions.dir": (value as string).replace(/^\.\//, "").replace(/\/+$/, ""),
    }),
  },
  FUNCTIONS_TIMEOUT_MS: { path: "functions.timeoutMs", kind: "int" },
};

/** How the loader reads them. */
export const FUNCTIONS_CONFIG: FeatureConfig<typeof FUNCTIONS_FIELDS> = {
  fields: FUNCTIONS_FIELDS,
  env: FUNCTIONS_ENV,
};

/**
 * The whole configuration: one zod schema assembled from the core fields and every feature's
 * (`lib/core/registry.ts`), and the loader that merges the config module, each section's defaults
 * and the environment variables of every section's table. Loading is pure: callers pass `env`
 * and the module.
 */

import { z } from "zod";
import { type EnvTable, readEnvValue } from "../platform/config/env.ts";
import { ConfigError } from "../platform/config/errors.ts";
import { isRecord } from "../platform/config/schemas.ts";
import type { ConfigFields, FeatureConfig, LoadContext } from "./feature.ts";
import { CORE_CONFIG, CORE_FIELDS, onDenoDeploy } from "./fields.ts";
import type { Secrets } from "./services.ts";
import { FEATURES } from "./registry.ts";

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends
  ((i: infer I) => void) ? I : never;
type FieldsOf<F> = F extends { config?: FeatureConfig<infer S> } ? S : never;
type AllFields = typeof CORE_FIELDS & UnionToIntersection<FieldsOf<(typeof FEATURES)[number]>>;

/** The validated configuration: the core fields and every feature's. */
export type EdgeConfig = { [K in keyof AllFields]: z.output<AllFields[K]> };
/** What a config module or file may give: any part of the configuration. */
export type EdgeConfigInput = { [K in keyof AllFields]?: z.input<AllFields[K]> };

/** Every section the loader reads: the core's, then the features' in registry order. */
const SECTIONS: ReadonlyArray<FeatureConfig<ConfigFields>> = [
  CORE_CONFIG as unknown as FeatureConfig<ConfigFields>,
  ...FEATURES.flatMap((f) => f.config ? [f.config as unknown as FeatureConfig<ConfigFields>] : []),
];

/** The root schema: every section's fields, then every section's rules across fields. */
export const EdgeConfigSchema: z.ZodType<EdgeConfig, EdgeConfigInput> = z.object(
  Object.assign({}, ...SECTIONS.map((s) => s.fields)),
).superRefine((cfg, ctx) => {
  for (const section of SECTIONS) section.check?.(cfg as unknown as EdgeConfig, ctx);
}) as unknown as z.ZodType<EdgeConfig, EdgeConfigInput>;

/** Every variable of every section, in order. */
const ENV: ReadonlyArray<[string, EnvTable[string]]> = SECTIONS.flatMap((s) =>
  Object.entries(s.env ?? {})
);

/** Inputs to {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** Environment variables (e.g. `Deno.env.toObject()`). */
  env?: Record<string, string | undefined>;
  /** The config module's default export, if any. */
  module?: unknown;
}

type Path = readonly string[];

function split(path: string): Path {
  return path.split(".");
}

/** A copy of plain objects and arrays (functions and other values are kept as they are). */
function copy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copy) as T;
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)])) as T;
  }
  return value;
}

function getPath(root: unknown, path: Path): unknown {
  let node = root;
  for (const key of path) {
    if (!isRecord(node)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * Sets `value` at `path` (`*` for every element of an array; missing objects are made), or
 * deletes it when `value` is undefined. With `onlyMissing` an existing value is kept.
 */
function setPath(root: Record<string, unknown>, path: Path, value: unknown, onlyMissing = false) {
  const star = path.indexOf("*");
  if (star >= 0) {
    const list = getPath(root, path.slice(0, star));
    if (!Array.isArray(list)) return;
    for (const item of list) {
      if (isRecord(item)) setPath(item, path.slice(star + 1), value, onlyMissing);
    }
    return;
  }
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (!isRecord(node[key])) {
      if (value === undefined) return;
      node[key] = {};
    }
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (onlyMissing && node[last] !== undefined) return;
  if (value === undefined) delete node[last];
  else node[last] = copy(value);
}

/** The variable whose field `path` (an issue's) lies in, among those that were set. */
function envNameFor(path: string, applied: ReadonlySet<string>): string | undefined {
  for (const [name, row] of ENV) {
    if (!applied.has(name) || row.path === undefined) continue;
    const field = row.path.replaceAll(".", "\\.").replaceAll("*", "\\d+");
    if (new RegExp(`^${field}(\\.|$)`).test(path)) return name;
  }
  return undefined;
}

/**
 * Merges the config module, each section's defaults and the environment, then validates once.
 * Throws {@linkcode ConfigError} naming the first bad field (and every other one).
 */
export function loadConfig(options: LoadConfigOptions = {}): EdgeConfig {
  const env = options.env ?? {};
  const module = options.module ?? {};
  if (!isRecord(module)) {
    throw new ConfigError("Invalid config: the config module must export an object");
  }
  const errors: string[] = [];

  // The environment, read once: the value of each field a variable sets.
  const fromEnv = new Map<string, unknown>();
  const applied = new Set<string>();
  for (const [name, row] of ENV) {
    const raw = env[name];
    const reading = row.off !== undefined && raw?.trim() === row.off
      ? { value: undefined }
      : readEnvValue(row.kind, raw);
    if (reading === null || row.path === undefined) continue;
    if ("error" in reading) {
      errors.push(`${name} (${row.path}): ${reading.error}`);
      continue;
    }
    try {
      const fields = row.fields?.(reading.value) ?? { [row.path]: reading.value };
      for (const [path, value] of Object.entries(fields)) fromEnv.set(path, value);
      applied.add(name);
    } catch (e) {
      errors.push(`${name} (${row.path}): ${(e as Error).message}`);
    }
  }

  const input = copy(module);
  // Secrets come only from the environment, unless their variable says otherwise.
  for (const [name, row] of ENV) {
    if (row.kind !== "secret" || row.moduleToo || row.path === undefined) continue;
    if (getPath(input, split(row.path)) === undefined) continue;
    errors.push(
      `${row.path}: ${row.notInModule ?? `Must come from the ${name} environment variable`}`,
    );
    setPath(input, split(row.path), undefined);
  }

  const given = (path: string) =>
    fromEnv.has(path) ? fromEnv.get(path) : getPath(module, split(path));
  const mode = String(given("mode") ?? "production");
  const ctx: LoadContext = {
    mode,
    dev: mode === "development",
    onDeploy: onDenoDeploy(env),
    module,
    given,
    fromEnv: (path) => fromEnv.has(path),
    error: (message) => errors.push(message),
  };
  for (const section of SECTIONS) {
    for (const [path, value] of Object.entries(section.defaults?.(ctx) ?? {})) {
      if (value !== undefined) setPath(input, split(path), value, true);
    }
  }
  for (const [path, value] of fromEnv) setPath(input, split(path), value);

  // Parsed once per process: zod's JIT would compile a fast path for every object in the
  // schema first, which costs start-up more than this one parse (jitless: same result).
  const result = EdgeConfigSchema.safeParse(input, { jitless: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map(String).join(".") || "(root)";
      const envName = envNameFor(path, applied);
      errors.push(`${path}${envName ? ` (from ${envName})` : ""}: ${issue.message}`);
    }
  }
  if (errors.length > 0) {
    throw new ConfigError(`Invalid config: ${errors.join("; ")}`);
  }
  return result.data!;
}

/**
 * The secrets of every section's table (`kind: "secret"`), read once from the environment: those
 * that are config fields too, and those that are not (`JWT_SECRET`). A blank one is unset; the
 * others are kept as they are (a signing secret is its exact bytes).
 */
export function loadSecrets(env: Record<string, string | undefined>): Secrets {
  const out: Record<string, string> = {};
  for (const [name, row] of ENV) {
    const raw = env[name];
    if (row.kind === "secret" && raw !== undefined && raw.trim() !== "") out[name] = raw;
  }
  return out;
}

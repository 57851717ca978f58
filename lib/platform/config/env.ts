/**
 * Environment variables as configuration: each feature declares its variables in one table
 * (variable → the config field it sets, and how its text is read), and the loader applies every
 * table the same way. Nothing here reads `Deno.env`: the loader is given the variables.
 */

/** How a variable's text becomes a value. Every kind trims; an empty `list` is an empty list. */
export type EnvKind =
  | "int" // a non-negative integer (up to 9 digits)
  | "bool" // 1/true/yes/on or 0/false/no/off, any case
  | "number" // a non-negative decimal
  | "bytes" // an integer with an optional KiB/MiB/GiB (or K/M/G) suffix
  | "string" // the text as it is (trimmed)
  | "list" // comma-separated, each item trimmed, empty items dropped
  | "json" // a JSON text
  | "secret"; // a string that comes only from the environment (the module may not set it)

/** One variable of a feature's table. */
export interface EnvVar {
  /**
   * The config field it sets, dotted (`metrics.health.maxP99Ms`); `*` for every array element.
   * Absent only for a secret that is no config field (read into the node's secrets).
   */
  path?: string;
  kind: EnvKind;
  /** A value that clears the field instead of setting it (e.g. `off`). */
  off?: string;
  /** For `secret`: the config module may set the field too (else that is refused). */
  moduleToo?: boolean;
  /**
   * For `secret`: why the module may not set it, after the field's path (default: `Must come
   * from the <NAME> environment variable`).
   */
  notInModule?: string;
  /**
   * For a variable that sets its field in more than one way: the fields it sets, by dotted path
   * (`undefined` clears one), from the kind's value. A thrown error's message is the reason.
   */
  fields?(value: unknown): Record<string, unknown>;
}

/** A feature's variables: name → what it sets. */
export type EnvTable = Readonly<Record<string, EnvVar>>;

const MiB = 1024 * 1024;

/** Parses a byte size: an integer, optionally with a KiB/MiB/GiB (or K/M/G) suffix. */
export function parseByteSize(raw: string): number | null {
  const m = /^(\d{1,13})\s*(k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(raw.trim());
  if (!m) return null;
  const unit = (m[2] ?? "").toLowerCase()[0];
  const factor = unit === "k" ? 1024 : unit === "m" ? MiB : unit === "g" ? 1024 * MiB : 1;
  return Number(m[1]) * factor;
}

/** Parses JSON text; the error's message says why it is not JSON. */
export function parseJsonText(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new Error(`Not valid JSON: ${(e as Error).message}`);
  }
}

/** What a variable's text reads as: its value, nothing (unset), or why it is invalid. */
export type EnvReading = { value: unknown } | { error: string } | null;

/** Reads one variable's text as `kind`; null when it is unset (absent or blank, except lists). */
export function readEnvValue(kind: EnvKind, raw: string | undefined): EnvReading {
  if (raw === undefined) return null;
  const text = raw.trim();
  if (kind === "list") {
    return { value: text.split(",").map((s) => s.trim()).filter(Boolean) };
  }
  if (text === "") return null;
  switch (kind) {
    case "int":
      return /^\d{1,9}$/.test(text)
        ? { value: Number(text) }
        : { error: `Not an integer: ${text}` };
    case "number": {
      const n = Number(text);
      return /^\d+(\.\d+)?$/.test(text) && Number.isFinite(n)
        ? { value: n }
        : { error: `Not a number: ${text}` };
    }
    case "bool": {
      const v = text.toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return { value: true };
      if (["0", "false", "no", "off"].includes(v)) return { value: false };
      return { error: `Not a boolean: ${v}` };
    }
    case "bytes": {
      const bytes = parseByteSize(text);
      return bytes === null ? { error: `Not a byte size: ${text}` } : { value: bytes };
    }
    case "json":
      try {
        return { value: parseJsonText(text) };
      } catch (e) {
        return { error: (e as Error).message };
      }
    case "string":
    case "secret":
      return { value: text };
  }
}

/**
 * A small JSON Schema 2020-12 validator for the keywords the document uses, so tests can judge
 * values by the document itself rather than by the zod schemas it came from. A keyword it does
 * not know is an error, never silently ignored.
 */

import { resolvePointer } from "./_openapi.ts";

type Schema = boolean | Record<string, unknown>;

const ANNOTATIONS = new Set(["description", "title", "default", "examples", "format", "$comment"]);
const KNOWN = new Set([
  ...ANNOTATIONS,
  "$ref",
  "type",
  "const",
  "enum",
  "anyOf",
  "oneOf",
  "allOf",
  "not",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
]);

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  if (type === "integer") return Number.isInteger(value);
  if (type === "number") return typeof value === "number" && Number.isFinite(value);
  return typeOf(value) === type;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The reasons `value` does not match `schema` (refs resolve against `root`); empty when it does. */
export function validateJson(value: unknown, schema: Schema, root: unknown): string[] {
  return check(value, schema, root, "$");
}

function check(value: unknown, schema: Schema, root: unknown, at: string): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${at}: no value allowed`];
  const out: string[] = [];
  const s = schema as Record<string, unknown>;
  for (const keyword of Object.keys(s)) {
    if (!KNOWN.has(keyword)) throw new Error(`Unsupported keyword at ${at}: ${keyword}`);
  }
  if (typeof s.$ref === "string") {
    const target = resolvePointer(root, s.$ref);
    if (target === undefined) return [`${at}: unresolved ${s.$ref}`];
    out.push(...check(value, target as Schema, root, at));
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type as string[] : [s.type as string];
    if (!types.some((t) => hasType(value, t))) {
      return [...out, `${at}: expected ${types.join("|")}, got ${typeOf(value)}`];
    }
  }
  if ("const" in s && !equal(value, s.const)) out.push(`${at}: must be ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => equal(e, value))) {
    out.push(`${at}: not one of ${JSON.stringify(s.enum)}`);
  }
  const sub = (schemas: unknown) =>
    (schemas as Schema[]).map((x) => check(value, x, root, at).length === 0);
  if (s.anyOf && !sub(s.anyOf).some(Boolean)) out.push(`${at}: matches none of anyOf`);
  if (s.oneOf && sub(s.oneOf).filter(Boolean).length !== 1) {
    out.push(`${at}: must match one of oneOf`);
  }
  if (s.allOf && !sub(s.allOf).every(Boolean)) out.push(`${at}: fails allOf`);
  if (s.not !== undefined && check(value, s.not as Schema, root, at).length === 0) {
    out.push(`${at}: matches not`);
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof s.minLength === "number" && length < s.minLength) out.push(`${at}: too short`);
    if (typeof s.maxLength === "number" && length > s.maxLength) out.push(`${at}: too long`);
    if (typeof s.pattern === "string" && !new RegExp(s.pattern).test(value)) {
      out.push(`${at}: does not match ${s.pattern}`);
    }
  }
  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) out.push(`${at}: below ${s.minimum}`);
    if (typeof s.maximum === "number" && value > s.maximum) out.push(`${at}: above ${s.maximum}`);
    if (typeof s.exclusiveMinimum === "number" && value <= s.exclusiveMinimum) {
      out.push(`${at}: not above ${s.exclusiveMinimum}`);
    }
    if (typeof s.exclusiveMaximum === "number" && value >= s.exclusiveMaximum) {
      out.push(`${at}: not below ${s.exclusiveMaximum}`);
    }
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) out.push(`${at}: too few`);
    if (typeof s.maxItems === "number" && value.length > s.maxItems) out.push(`${at}: too many`);
    const prefix = (s.prefixItems ?? []) as Schema[];
    value.forEach((item, i) => {
      const itemSchema = i < prefix.length ? prefix[i] : s.items as Schema | undefined;
      if (itemSchema !== undefined) {
        out.push(...check(item, itemSchema, root, `${at}[${i}]`));
      }
    });
  }
  if (typeOf(value) === "object") {
    const obj = value as Record<string, unknown>;
    const properties = (s.properties ?? {}) as Record<string, Schema>;
    for (const name of (s.required ?? []) as string[]) {
      if (!(name in obj)) out.push(`${at}: missing ${name}`);
    }
    for (const [key, item] of Object.entries(obj)) {
      if (s.propertyNames !== undefined) {
        out.push(...check(key, s.propertyNames as Schema, root, `${at} key ${key}`));
      }
      const own = properties[key] ?? s.additionalProperties;
      if (own !== undefined) out.push(...check(item, own as Schema, root, `${at}.${key}`));
    }
  }
  return out;
}

/**
 * zod schemas as OpenAPI 3.1 schema objects, converted by zod's own `z.toJSONSchema` (JSON
 * Schema 2020-12, the dialect of OpenAPI 3.1). zod-to-openapi's converter fails on some of our
 * zod 4 schemas (discriminated unions of transformed wire formats, `z.json()`) and drops others'
 * bounds, so every schema in the document goes through this one converter.
 */

import { z } from "zod";

import type { JsonSchema } from "../../../platform/http/route_doc.ts";

export type { JsonSchema };

/** An OpenAPI parameter object. */
export interface ParameterObject {
  name: string;
  in: "path" | "query" | "header";
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

const PREFIX = "#/components/schemas/";

/** Converts schemas and collects the named ones for `components.schemas`. */
export class SchemaBook {
  readonly #components = new Map<string, JsonSchema>();
  readonly #named = new Map<string, z.ZodType>();

  /** The collected components, by name. */
  get components(): ReadonlyMap<string, JsonSchema> {
    return this.#components;
  }

  /** Registers `schema` as `components.schemas[name]` (once) and returns a reference to it. */
  ref(name: string, schema: z.ZodType): { $ref: string } {
    const known = this.#named.get(name);
    if (known !== undefined && known !== schema) {
      throw new TypeError(`Two schemas registered as ${name}`);
    }
    if (known === undefined) {
      this.#named.set(name, schema);
      this.#add(name, convert(schema, name));
    }
    return { $ref: PREFIX + name };
  }

  /** `schema` written out where it is used (it must not refer to itself or to definitions). */
  inline(schema: z.ZodType): JsonSchema {
    const { root, defs, selfRef } = convert(schema, "inline");
    if (defs.length > 0 || selfRef) throw new TypeError("An inline schema cannot be recursive");
    return root;
  }

  /** One parameter per property of `schema` (`path` parameters are always required). */
  parameters(
    where: ParameterObject["in"],
    schema: z.ZodObject,
    descriptions: Record<string, string> = {},
  ): ParameterObject[] {
    const { root, defs, selfRef } = convert(schema, "parameters");
    if (defs.length > 0 || selfRef) throw new TypeError("Parameters cannot be recursive");
    const properties = (root.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((root.required ?? []) as string[]);
    return Object.entries(properties).map(([name, property]) => ({
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(descriptions[name] ? { description: descriptions[name] } : {}),
      schema: property,
    }));
  }

  #add(name: string, json: Converted): void {
    this.#components.set(name, json.root);
    for (const [def, schema] of json.defs) this.#components.set(defName(name, def), schema);
  }
}

interface Converted {
  root: JsonSchema;
  defs: Array<[string, JsonSchema]>;
  selfRef: boolean;
}

function defName(name: string, def: string): string {
  return `${name}_${def.replace(/^_+/, "")}`;
}

/**
 * `z.toJSONSchema` of what the schema accepts (`io: "input"`: defaults optional, before
 * transforms; objects open unless strict), which is also what a client reading an answer should
 * accept. `$defs` and self references move under `components.schemas`.
 */
function convert(schema: z.ZodType, name: string): Converted {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  delete json.$schema;
  const defs = Object.entries((json.$defs ?? {}) as Record<string, JsonSchema>);
  delete json.$defs;
  let selfRef = false;
  function rewrite(value: unknown): void {
    if (Array.isArray(value)) {
      value.forEach(rewrite);
      return;
    }
    if (value === null || typeof value !== "object") return;
    const node = value as JsonSchema;
    if (typeof node.$ref === "string") {
      if (node.$ref === "#") {
        selfRef = true;
        node.$ref = PREFIX + name;
      } else if (node.$ref.startsWith("#/$defs/")) {
        node.$ref = PREFIX + defName(name, node.$ref.slice(8));
      } else {
        throw new TypeError(`Unexpected reference in ${name}: ${node.$ref}`);
      }
    }
    for (const child of Object.values(node)) rewrite(child);
  }
  rewrite(json);
  for (const [, def] of defs) rewrite(def);
  return { root: json, defs, selfRef };
}

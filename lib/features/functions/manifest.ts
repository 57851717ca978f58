/**
 * From a manifest to routes: a function's route comes from its file name (`users/[id]` →
 * `/users/:id`), its methods from its exports, its settings from its `config` export. A manifest
 * that would shadow the edge's own routes, clash, or export what no one would call is refused
 * at start-up with a message naming the file.
 */

import { z } from "zod";
import type { FunctionHandler, FunctionManifest, FunctionModule } from "./types.ts";

/** The methods a function file may export a handler for. */
export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
/** One of {@linkcode METHODS}. */
export type Method = typeof METHODS[number];

/** First path segments the edge answers itself; no function may be routed under them. */
const EDGE_PREFIXES = ["_edge", "items", "crdt", "events", "_central"] as const;

const STATIC_SEGMENT = /^[A-Za-z0-9.~-][A-Za-z0-9_.~-]{0,127}$/;
const PARAM_SEGMENT = /^\[([A-Za-z][A-Za-z0-9_]{0,63})\]$/;
const REST_SEGMENT = /^\[\.\.\.([A-Za-z][A-Za-z0-9_]{0,63})\]$/;
/** A namespace: what `config.kv` may name, and every function name. */
const NAMESPACE = /^[A-Za-z0-9_.~\[\]-]+(?:\/[A-Za-z0-9_.~\[\]-]+)*$/;

/** A function ready to route. */
export interface CompiledFunction {
  /** Its name: the file path under the functions folder, without extension. */
  name: string;
  /** The Hono route (`/users/:id`, `/files/:path{.+}`). */
  route: string;
  handlers: Partial<Record<Method, FunctionHandler>>;
  fallback: FunctionHandler | null;
  timeoutMs: number;
  /** The KV namespace and cache scope. */
  namespace: string;
}

/** Thrown for a manifest the edge will not start with. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

const OptionsSchema = z.object({
  timeoutMs: z.number().int().min(1).max(300_000).optional(),
  kv: z.string().max(128).regex(NAMESPACE, "Must be a name like notes or api/notes").optional(),
}).strict();

/** One segment of a route, or a reason it cannot be one. */
type Segment = { kind: "static" | "param" | "rest"; text: string } | { error: string };

function parseSegment(segment: string, last: boolean): Segment {
  const rest = REST_SEGMENT.exec(segment);
  if (rest) {
    return last
      ? { kind: "rest", text: `:${rest[1]}{.+}` }
      : { error: `[...${rest[1]}] must be the last part of the name` };
  }
  const param = PARAM_SEGMENT.exec(segment);
  if (param) return { kind: "param", text: `:${param[1]}` };
  if (STATIC_SEGMENT.test(segment)) return { kind: "static", text: segment };
  return {
    error: `Not a route segment: ${segment} (letters, digits, . ~ - _; [name] or [...name])`,
  };
}

/**
 * The route of a function name: `index` is its folder, `[id]` a parameter, a final `[...rest]`
 * the rest of the path. Throws {@linkcode ManifestError} for a name that cannot be a route.
 */
export function routeOf(name: string): { route: string; kinds: string[] } {
  const parts = name.split("/");
  if (parts.some((p) => p === "")) throw new ManifestError(`${name}: Empty path segment`);
  if (parts[parts.length - 1] === "index") parts.pop();
  const segments: string[] = [];
  const kinds: string[] = [];
  parts.forEach((part, i) => {
    const parsed = parseSegment(part, i === parts.length - 1);
    if ("error" in parsed) throw new ManifestError(`${name}: ${parsed.error}`);
    segments.push(parsed.text);
    kinds.push(parsed.kind);
  });
  const params = segments.filter((s) => s.startsWith(":")).map((s) => s.replace(/\{.*$/, ""));
  if (new Set(params).size !== params.length) {
    throw new ManifestError(`${name}: A parameter name is used twice`);
  }
  return { route: `/${segments.join("/")}`, kinds };
}

/** The edge prefix a route would shadow, or null. */
export function shadowedPrefix(route: string): string | null {
  const first = route.split("/")[1]?.toLowerCase() ?? "";
  return (EDGE_PREFIXES as readonly string[]).includes(first) ? `/${first}` : null;
}

/** Static segments sort before parameters, parameters before a rest (Hono tries in order). */
function specificity(kinds: string[]): string {
  return kinds.map((k) => (k === "static" ? "0" : k === "param" ? "1" : "2")).join("");
}

function compileModule(
  name: string,
  mod: FunctionModule,
  defaults: { timeoutMs: number },
): Omit<CompiledFunction, "route"> {
  if (typeof mod !== "object" || mod === null) {
    throw new ManifestError(`${name}: Not a module`);
  }
  const exports = mod as Record<string, unknown>;
  const handlers: Partial<Record<Method, FunctionHandler>> = {};
  for (const [exported, value] of Object.entries(exports)) {
    const method = METHODS.find((m) => m === exported.toUpperCase());
    if (method === undefined) continue;
    if (exported !== method) {
      throw new ManifestError(`${name}: Export ${exported} must be spelt ${method}`);
    }
    if (typeof value !== "function") {
      throw new ManifestError(`${name}: Export ${exported} must be a function`);
    }
    handlers[method] = value as FunctionHandler;
  }
  const fallback = exports.default;
  if (fallback !== undefined && typeof fallback !== "function") {
    throw new ManifestError(`${name}: The default export must be a function`);
  }
  if (fallback === undefined && Object.keys(handlers).length === 0) {
    throw new ManifestError(
      `${name}: No handler: export default, or one of ${METHODS.join(", ")}`,
    );
  }
  const parsed = OptionsSchema.safeParse(exports.config ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length > 0 ? `.${issue.path.join(".")}` : "";
    throw new ManifestError(`${name}: config${field}: ${issue.message}`);
  }
  return {
    name,
    handlers,
    fallback: (fallback as FunctionHandler | undefined) ?? null,
    timeoutMs: parsed.data.timeoutMs ?? defaults.timeoutMs,
    namespace: parsed.data.kv ?? name,
  };
}

/**
 * Every function of a manifest with its route, most specific first. Throws
 * {@linkcode ManifestError} naming the first function that cannot be served.
 */
export function compileManifest(
  manifest: FunctionManifest,
  defaults: { timeoutMs: number },
): CompiledFunction[] {
  if (typeof manifest !== "object" || manifest === null || typeof manifest.functions !== "object") {
    throw new ManifestError("The manifest must export { dir, functions }");
  }
  const out: Array<CompiledFunction & { order: string }> = [];
  const byRoute = new Map<string, string>();
  for (const [name, mod] of Object.entries(manifest.functions)) {
    if (!NAMESPACE.test(name) || name.split("/").some((p) => /^[_.]/.test(p))) {
      throw new ManifestError(`${name}: Not a function name`);
    }
    const { route, kinds } = routeOf(name);
    const shadowed = shadowedPrefix(route);
    if (shadowed !== null) {
      throw new ManifestError(
        `${name}: Its route ${route} is under ${shadowed}, which the edge answers itself ` +
          `(reserved: ${EDGE_PREFIXES.map((p) => `/${p}`).join(", ")})`,
      );
    }
    // `/a/:x` and `/a/:y` match the same requests: compare with parameter names erased.
    const shape = route.replace(/:[A-Za-z0-9_]+(\{\.\+\})?/g, (_m, rest) => (rest ? "**" : "*"));
    const other = byRoute.get(shape);
    if (other !== undefined) {
      throw new ManifestError(`${name}: Same route as ${other}: ${route}`);
    }
    byRoute.set(shape, name);
    out.push({ ...compileModule(name, mod, defaults), route, order: specificity(kinds) });
  }
  out.sort((a, b) => a.order.localeCompare(b.order) || a.route.localeCompare(b.route));
  return out.map(({ order: _order, ...f }) => f);
}

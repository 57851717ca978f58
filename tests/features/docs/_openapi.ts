/**
 * A focused structural check of OpenAPI 3.1 documents: the required fields, every `$ref`
 * resolving, path templates against declared path parameters, unique operation ids, known
 * security schemes and tags. It returns the problems found (empty: valid).
 */

type Obj = Record<string, unknown>;

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const LOCATIONS = ["path", "query", "header", "cookie"];
const COMPONENT_NAME = /^[a-zA-Z0-9._-]+$/;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Resolves a local JSON pointer (`#/components/schemas/X`) in `doc`, or undefined. */
export function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith("#")) return undefined;
  if (ref === "#") return doc;
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const part = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (!isObj(node) && !Array.isArray(node)) return undefined;
    node = (node as Obj)[part];
    if (node === undefined) return undefined;
  }
  return node;
}

function walkRefs(node: unknown, at: string, visit: (ref: string, at: string) => void): void {
  if (Array.isArray(node)) {
    node.forEach((child, i) => walkRefs(child, `${at}/${i}`, visit));
    return;
  }
  if (!isObj(node)) return;
  if (typeof node.$ref === "string") visit(node.$ref, at);
  for (const [key, child] of Object.entries(node)) walkRefs(child, `${at}/${key}`, visit);
}

function deref(doc: Obj, value: unknown): unknown {
  return isObj(value) && typeof value.$ref === "string" ? resolvePointer(doc, value.$ref) : value;
}

function checkParameters(doc: Obj, list: unknown, where: string, out: string[]): Obj[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    out.push(`${where}: parameters is not an array`);
    return [];
  }
  const seen = new Set<string>();
  const params: Obj[] = [];
  list.forEach((raw, i) => {
    const p = deref(doc, raw);
    if (!isObj(p)) return out.push(`${where}/parameters/${i}: not an object`);
    if (typeof p.name !== "string" || !LOCATIONS.includes(p.in as string)) {
      return out.push(`${where}/parameters/${i}: needs a name and a valid "in"`);
    }
    if (("schema" in p) === ("content" in p)) {
      out.push(`${where}/parameters/${i}: needs exactly one of schema and content`);
    }
    if (p.in === "path" && p.required !== true) out.push(`${where}: path ${p.name} not required`);
    const key = `${p.in}:${p.in === "header" ? (p.name as string).toLowerCase() : p.name}`;
    if (seen.has(key)) out.push(`${where}: parameter ${key} declared twice`);
    seen.add(key);
    params.push(p);
  });
  return params;
}

function checkOperation(
  doc: Obj,
  op: Obj,
  at: { path: string; where: string; shared: Obj[] },
  out: string[],
) {
  const { where, shared: pathParams } = at;
  const template = [...at.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const params = [...pathParams, ...checkParameters(doc, op.parameters, where, out)];
  const declared = new Set(params.filter((p) => p.in === "path").map((p) => p.name as string));
  for (const name of template) {
    if (!declared.has(name)) out.push(`${where}: path parameter {${name}} not declared`);
  }
  for (const name of declared) {
    if (!template.includes(name)) out.push(`${where}: path parameter ${name} not in the path`);
  }
  if (!isObj(op.responses) || Object.keys(op.responses).length === 0) {
    out.push(`${where}: no responses`);
  } else {
    for (const [status, raw] of Object.entries(op.responses)) {
      if (status !== "default" && !/^[1-5](\d\d|XX)$/.test(status)) {
        out.push(`${where}: bad status ${status}`);
      }
      const response = deref(doc, raw);
      if (!isObj(response) || typeof response.description !== "string") {
        out.push(`${where} ${status}: a response needs a description`);
      } else if (response.content !== undefined) {
        checkContent(response.content, `${where} ${status}`, out);
      }
    }
  }
  if (op.requestBody !== undefined) {
    const body = deref(doc, op.requestBody);
    if (!isObj(body)) out.push(`${where}: bad requestBody`);
    else checkContent(body.content, `${where} requestBody`, out);
  }
  const schemes = isObj(doc.components) && isObj(doc.components.securitySchemes)
    ? doc.components.securitySchemes
    : {};
  for (const requirement of (op.security ?? []) as unknown[]) {
    if (!isObj(requirement)) {
      out.push(`${where}: bad security requirement`);
      continue;
    }
    for (const name of Object.keys(requirement)) {
      if (!(name in schemes)) out.push(`${where}: unknown security scheme ${name}`);
    }
  }
}

function checkContent(content: unknown, where: string, out: string[]): void {
  if (!isObj(content) || Object.keys(content).length === 0) {
    out.push(`${where}: content must name at least one media type`);
    return;
  }
  for (const [type, media] of Object.entries(content)) {
    if (!isObj(media) || !("schema" in media)) out.push(`${where} ${type}: no schema`);
  }
}

/** The problems of `doc` as an OpenAPI 3.1 document (empty when none were found). */
export function validateOpenApi(doc: unknown): string[] {
  const out: string[] = [];
  if (!isObj(doc)) return ["the document is not an object"];
  if (typeof doc.openapi !== "string" || !/^3\.1\.\d+$/.test(doc.openapi)) {
    out.push(`openapi must be 3.1.x: ${doc.openapi}`);
  }
  const info = doc.info;
  if (!isObj(info) || typeof info.title !== "string" || typeof info.version !== "string") {
    out.push("info needs a title and a version");
  }
  if (!isObj(doc.paths)) return [...out, "paths must be an object"];
  for (const server of (doc.servers ?? []) as unknown[]) {
    if (!isObj(server) || typeof server.url !== "string") out.push("a server needs a url");
  }
  const components = isObj(doc.components) ? doc.components : {};
  for (const [kind, group] of Object.entries(components)) {
    for (const name of Object.keys(isObj(group) ? group : {})) {
      if (!COMPONENT_NAME.test(name)) out.push(`components.${kind}: bad name ${name}`);
    }
  }
  for (
    const [name, raw] of Object.entries(
      isObj(components.securitySchemes) ? components.securitySchemes : {},
    )
  ) {
    const s = raw as Obj;
    const ok = s.type === "http"
      ? typeof s.scheme === "string"
      : s.type === "apiKey"
      ? typeof s.name === "string" && ["query", "header", "cookie"].includes(s.in as string)
      : ["oauth2", "openIdConnect", "mutualTLS"].includes(s.type as string);
    if (!ok) out.push(`securitySchemes.${name}: incomplete`);
  }
  const tags = new Set(((doc.tags ?? []) as Obj[]).map((t) => t.name));
  const ids = new Map<string, string>();
  for (const [path, raw] of Object.entries(doc.paths)) {
    if (!path.startsWith("/")) out.push(`path must start with /: ${path}`);
    const item = deref(doc, raw);
    if (!isObj(item)) {
      out.push(`${path}: not a path item`);
      continue;
    }
    const shared = checkParameters(doc, item.parameters, path, out);
    for (const method of Object.keys(item)) {
      if (!METHODS.includes(method)) {
        if (!["parameters", "summary", "description", "servers", "$ref"].includes(method)) {
          out.push(`${path}: unknown field ${method}`);
        }
        continue;
      }
      const op = item[method] as Obj;
      const where = `${method.toUpperCase()} ${path}`;
      checkOperation(doc, op, { path, where, shared }, out);
      if (typeof op.operationId === "string") {
        const other = ids.get(op.operationId);
        if (other) out.push(`operationId ${op.operationId} used by ${other} and ${where}`);
        ids.set(op.operationId, where);
      }
      for (const tag of (op.tags ?? []) as string[]) {
        if (!tags.has(tag)) out.push(`${where}: tag ${tag} not declared`);
      }
    }
  }
  walkRefs(doc, "#", (ref, at) => {
    if (resolvePointer(doc, ref) === undefined) out.push(`${at}: $ref does not resolve: ${ref}`);
  });
  return out;
}

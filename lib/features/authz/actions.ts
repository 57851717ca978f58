/**
 * Actions are derived from method + route: explicit rules first (`GET /api/users/:id` →
 * `users:read`), then the default: the first path segment after a mount prefix is the resource
 * (`/api/users/7` → `users`, `/items/x` → `items`) and the method gives the verb.
 */

/** One explicit mapping; `path` segments may be `:name` (one segment) or a final `*`. */
export interface ActionRule {
  methods?: readonly string[];
  path: string;
  action: string;
}

/** Options for {@linkcode compileActions}. */
export interface ActionOptions {
  rules: readonly ActionRule[];
  /** Prefixes stripped before the resource segment is taken (e.g. `/api`). */
  mounts: readonly string[];
  /** Method → verb. A method without a verb has no action. */
  verbs: Readonly<Record<string, string>>;
}

/** Resolves the action of a request; null when the method has no verb. */
export type ActionResolver = (method: string, path: string) => string | null;

interface CompiledRule {
  methods: Set<string> | null;
  segments: string[];
  rest: boolean;
  action: string;
}

function compileRule(rule: ActionRule): CompiledRule {
  const parts = rule.path.split("/").slice(1);
  const rest = parts.at(-1) === "*";
  if (rest) parts.pop();
  return {
    methods: rule.methods ? new Set(rule.methods.map((m) => m.toUpperCase())) : null,
    segments: parts,
    rest,
    action: rule.action,
  };
}

function ruleMatches(rule: CompiledRule, method: string, parts: string[]): boolean {
  if (rule.methods !== null && !rule.methods.has(method)) return false;
  if (rule.rest ? parts.length < rule.segments.length : parts.length !== rule.segments.length) {
    return false;
  }
  for (let i = 0; i < rule.segments.length; i++) {
    const s = rule.segments[i];
    if (s.startsWith(":") ? parts[i] === "" : s !== parts[i]) return false;
  }
  return true;
}

/** Lower-cases a segment and replaces what an action may not contain. */
function resourceName(segment: string): string {
  const name = segment.toLowerCase().slice(0, 64).replace(/[^a-z0-9_.-]/g, "_");
  return name === "" ? "root" : name;
}

/** Compiles the rules once; the resolver is then a few string operations per request. */
export function compileActions(options: ActionOptions): ActionResolver {
  const rules = options.rules.map(compileRule);
  const mounts = [...options.mounts].sort((a, b) => b.length - a.length);
  const verbs = new Map(Object.entries(options.verbs).map(([m, v]) => [m.toUpperCase(), v]));
  return function resolveAction(method: string, path: string): string | null {
    if (rules.length > 0) {
      const parts = path.split("/").slice(1);
      for (const rule of rules) if (ruleMatches(rule, method, parts)) return rule.action;
    }
    const verb = verbs.get(method);
    if (verb === undefined) return null;
    let rest = path;
    for (const mount of mounts) {
      if (path === mount || path.startsWith(mount + "/")) {
        rest = path.slice(mount.length);
        break;
      }
    }
    const end = rest.indexOf("/", 1);
    return `${resourceName(rest.slice(1, end < 0 ? undefined : end))}:${verb}`;
  };
}

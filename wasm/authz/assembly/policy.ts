// The policy the host loads into the module: which role may do which action, and from where.
// Loading validates again (the host validated with zod first) so that a bad policy is refused
// with a reason instead of trapping.

import { JValue, Kind } from "./json";
import { spanEquals } from "./scan";

/** `resource:verb` as UTF-8 bytes; a null part is `*` (the single `*` means every action). */
export class Pattern {
  res: ArrayBuffer | null;
  verb: ArrayBuffer | null;

  constructor(res: string, verb: string) {
    this.res = res == "*" ? null : String.UTF8.encode(res);
    this.verb = verb == "*" ? null : String.UTF8.encode(verb);
  }

  /** Whether the action whose parts are the two spans matches. */
  matches(resPtr: usize, resLen: usize, verbPtr: usize, verbLen: usize): bool {
    const res = this.res;
    const verb = this.verb;
    return (res === null || spanEquals(resPtr, resLen, res)) &&
      (verb === null || spanEquals(verbPtr, verbLen, verb));
  }
}

/** What one role may and may not do. */
export class Role {
  name: ArrayBuffer;
  allow: Array<Pattern> = [];
  deny: Array<Pattern> = [];

  constructor(name: string) {
    this.name = String.UTF8.encode(name);
  }
}

/** Where the actions matching `actions` may be used from (ISO 3166 alpha-2 codes, packed). */
export class GeoRule {
  actions: Array<Pattern> = [];
  allow: Array<u32> = [];
  deny: Array<u32> = [];
  /** Whether a request whose country is unknown is refused. */
  unknownDenied: bool = false;
}

/** The whole policy. An empty policy allows nothing. */
export class Policy {
  roles: Array<Role> = [];
  geo: Array<GeoRule> = [];
}

/** Splits `res:verb` (or `*`); null when it is not of that shape. */
export function parsePattern(s: string): Pattern | null {
  if (s == "*") return new Pattern("*", "*");
  const i = s.indexOf(":");
  if (i <= 0 || i == s.length - 1 || s.indexOf(":", i + 1) >= 0) return null;
  return new Pattern(s.substring(0, i), s.substring(i + 1));
}

/** True when some pattern matches the action `res:verb` given as two spans. */
export function anyMatches(
  patterns: Array<Pattern>,
  resPtr: usize,
  resLen: usize,
  verbPtr: usize,
  verbLen: usize,
): bool {
  for (let i = 0; i < patterns.length; i++) {
    if (unchecked(patterns[i]).matches(resPtr, resLen, verbPtr, verbLen)) return true;
  }
  return false;
}

/** Two ASCII letters packed as `a << 8 | b`. */
export function packCountry(a: u32, b: u32): u32 {
  return (a << 8) | b;
}

/** Builds a policy from its JSON, or sets `error` and returns null. */
export class PolicyReader {
  error: string = "";

  read(root: JValue): Policy | null {
    if (root.kind != Kind.Obj) return this.fail("(root)", "Must be an object");
    const policy = new Policy();
    const roles = root.get("roles");
    if (roles === null || roles.kind != Kind.Obj) return this.fail("roles", "Must be an object");
    const names = roles.keys!;
    const values = roles.items!;
    for (let i = 0; i < names.length; i++) {
      const name = unchecked(names[i]);
      const value = unchecked(values[i]);
      if (value.kind != Kind.Obj) return this.fail("roles." + name, "Must be an object");
      const role = new Role(name);
      if (!this.patterns(value.get("allow"), "roles." + name + ".allow", role.allow)) return null;
      if (!this.patterns(value.get("deny"), "roles." + name + ".deny", role.deny)) return null;
      policy.roles.push(role);
    }
    const geo = root.get("geo");
    if (geo !== null) {
      if (geo.kind != Kind.Arr) return this.fail("geo", "Must be an array");
      const rules = geo.items!;
      for (let i = 0; i < rules.length; i++) {
        const at = "geo." + i.toString();
        const r = unchecked(rules[i]);
        if (r.kind != Kind.Obj) return this.fail(at, "Must be an object");
        const rule = new GeoRule();
        if (!this.patterns(r.get("actions"), at + ".actions", rule.actions)) return null;
        if (rule.actions.length == 0) return this.fail(at + ".actions", "Must not be empty");
        if (!this.countries(r.get("allow"), at + ".allow", rule.allow)) return null;
        if (!this.countries(r.get("deny"), at + ".deny", rule.deny)) return null;
        const unknown = r.get("unknown");
        if (unknown !== null) {
          if (unknown.kind != Kind.Str || (unknown.s != "allow" && unknown.s != "deny")) {
            return this.fail(at + ".unknown", 'Must be "allow" or "deny"');
          }
          rule.unknownDenied = unknown.s == "deny";
        } else {
          rule.unknownDenied = rule.allow.length > 0;
        }
        policy.geo.push(rule);
      }
    }
    return policy;
  }

  private fail(path: string, message: string): Policy | null {
    this.error = path + ": " + message;
    return null;
  }

  private patterns(v: JValue | null, path: string, out: Array<Pattern>): bool {
    if (v === null) return true;
    if (v.kind != Kind.Arr) {
      this.fail(path, "Must be an array");
      return false;
    }
    const items = v.items!;
    for (let i = 0; i < items.length; i++) {
      const item = unchecked(items[i]);
      const p = item.kind == Kind.Str ? parsePattern(item.s) : null;
      if (p === null) {
        this.fail(path + "." + i.toString(), "Not an action pattern (resource:verb)");
        return false;
      }
      out.push(p);
    }
    return true;
  }

  private countries(v: JValue | null, path: string, out: Array<u32>): bool {
    if (v === null) return true;
    if (v.kind != Kind.Arr) {
      this.fail(path, "Must be an array");
      return false;
    }
    const items = v.items!;
    for (let i = 0; i < items.length; i++) {
      const item = unchecked(items[i]);
      if (item.kind != Kind.Str || !isCountry(item.s)) {
        this.fail(path + "." + i.toString(), "Not an ISO 3166 alpha-2 code");
        return false;
      }
      out.push(packCountry(item.s.charCodeAt(0), item.s.charCodeAt(1)));
    }
    return true;
  }
}

/** Two upper-case ASCII letters. */
export function isCountry(s: string): bool {
  if (s.length != 2) return false;
  const a = s.charCodeAt(0);
  const b = s.charCodeAt(1);
  return a >= 0x41 && a <= 0x5a && b >= 0x41 && b <= 0x5a;
}

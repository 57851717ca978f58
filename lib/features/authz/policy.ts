/**
 * The policy format (data, not code): role → allowed and denied actions with wildcards, per-action
 * country allow/deny lists, and a rate-limit class per role. Validated with zod here; what passes
 * is loaded into the WebAssembly module, which makes the decisions.
 */

import { z } from "zod";
import { countryCentroid } from "../geo/countries.ts";

/** `resource:verb`, either part may be `*`; `*` alone is every action. */
export const ActionPatternSchema = z.string().regex(
  /^(\*|(\*|[a-z0-9_.-]{1,64}):(\*|[a-z0-9_.-]{1,64}))$/,
  "Not an action pattern (resource:verb, either part may be *)",
);

/** A role name as it appears in a token's roles claim. */
const RoleNameSchema = z.string().regex(
  /^[A-Za-z0-9_.:-]{1,64}$/,
  "Must be 1-64 letters, digits, _ . : or -",
);

const CountrySchema = z.string().refine((c) => /^[A-Z]{2}$/.test(c) && !!countryCentroid(c), {
  message: "Not an ISO 3166-1 alpha-2 country code",
});

const RoleSchema = z.object({
  allow: z.array(ActionPatternSchema).max(256).default([]),
  deny: z.array(ActionPatternSchema).max(256).default([]),
  /** The rate-limit class of this role's users (a name from `authz.rateLimit.classes`). */
  rateClass: z.string().min(1).max(64).optional(),
}).strict();

const GeoRuleSchema = z.object({
  actions: z.array(ActionPatternSchema).min(1).max(256),
  allow: z.array(CountrySchema).max(300).optional(),
  deny: z.array(CountrySchema).max(300).optional(),
  /** Requests from an unknown country: denied by default when `allow` is given. */
  unknown: z.enum(["allow", "deny"]).optional(),
}).strict().refine((r) => r.allow !== undefined || r.deny !== undefined, {
  message: "A geo rule needs allow or deny",
});

/** The policy document. */
export const PolicySchema = z.object({
  version: z.literal(1).default(1),
  roles: z.record(RoleNameSchema, RoleSchema).refine((r) => Object.keys(r).length <= 256, {
    message: "At most 256 roles",
  }),
  geo: z.array(GeoRuleSchema).max(256).default([]),
}).strict();

/** A validated policy. */
export type Policy = z.infer<typeof PolicySchema>;
/** A policy as written (defaults not yet applied). */
export type PolicyInput = z.input<typeof PolicySchema>;

/** A policy that cannot be used; `message` names the offending field. */
export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PolicyError";
  }
}

/** The largest policy document accepted, in bytes. */
const MAX_POLICY_BYTES = 256 * 1024;

/** The policy used when none is configured: readers, editors and admins. */
export const DEFAULT_POLICY: PolicyInput = {
  version: 1,
  roles: {
    viewer: { allow: ["*:read"], rateClass: "standard" },
    editor: { allow: ["*:read", "*:write", "items:*", "crdt:*"], rateClass: "standard" },
    admin: { allow: ["*"], rateClass: "premium" },
  },
  geo: [],
};

/**
 * Validates a policy (a parsed value or JSON text) against the known rate classes.
 * Throws {@linkcode PolicyError} naming the first bad field.
 */
export function parsePolicy(value: unknown, rateClasses: ReadonlySet<string>): Policy {
  if (typeof value === "string") {
    if (value.length > MAX_POLICY_BYTES) {
      throw new PolicyError(`(root): Policy larger than ${MAX_POLICY_BYTES} bytes`);
    }
    try {
      value = JSON.parse(value);
    } catch (e) {
      throw new PolicyError(`(root): Not valid JSON: ${(e as Error).message}`);
    }
  }
  const result = PolicySchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => {
      // A record key's own reason (e.g. a bad role name) is nested one level down.
      const nested = i.code === "invalid_key" ? i.issues[0]?.message : undefined;
      return `${i.path.map(String).join(".") || "(root)"}: ${nested ?? i.message}`;
    });
    throw new PolicyError(issues.join("; "));
  }
  for (const [name, role] of Object.entries(result.data.roles)) {
    if (role.rateClass !== undefined && !rateClasses.has(role.rateClass)) {
      throw new PolicyError(
        `roles.${name}.rateClass: Unknown rate class: ${role.rateClass} (known: ${
          [...rateClasses].join(", ")
        })`,
      );
    }
  }
  return result.data;
}

/** The part of the policy the module receives (rate classes are the host's business). */
export function modulePolicyJson(policy: Policy): string {
  const roles: Record<string, { allow: string[]; deny: string[] }> = {};
  for (const [name, role] of Object.entries(policy.roles)) {
    roles[name] = { allow: role.allow, deny: role.deny };
  }
  return JSON.stringify({ roles, geo: policy.geo });
}

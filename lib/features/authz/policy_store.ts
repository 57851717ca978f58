/**
 * The live policy: validated with zod, loaded into the module, and replaced only by a policy that
 * both the schema and the module accept (a bad update is logged, counted and ignored; the old
 * policy stays in force). Also answers which rate-limit class a set of roles gets.
 */

import type { Logger } from "../../core/log.ts";
import type { Counter } from "../../core/metrics.ts";
import { modulePolicyJson, parsePolicy, type Policy, PolicyError } from "./policy.ts";
import type { PolicyModule } from "./wasm_module.ts";

/** Options for {@linkcode PolicyStore}. */
export interface PolicyStoreOptions {
  /** The module (null when it failed to load: the policy is still validated and kept). */
  module: PolicyModule | null;
  /** Rate classes by name with their steady rate in requests per second (higher wins). */
  classRates: ReadonlyMap<string, number>;
  defaultClass: string;
  log: Logger;
  loads: Counter;
}

/** The result of an update. */
export type PolicyUpdate = { ok: true; changed: boolean } | { ok: false; error: string };

/** Holds the policy in force. */
export class PolicyStore {
  readonly #opts: PolicyStoreOptions;
  readonly #classes: ReadonlySet<string>;
  #policy: Policy | null = null;
  #classOfRole = new Map<string, string>();
  #lastText: string | null = null;
  #source = "(none)";

  constructor(options: PolicyStoreOptions) {
    this.#opts = options;
    this.#classes = new Set(options.classRates.keys());
  }

  /** The policy in force (null before the first successful load). */
  get policy(): Policy | null {
    return this.#policy;
  }

  /** Where the policy in force came from. */
  get source(): string {
    return this.#source;
  }

  /** Validates and applies; throws {@linkcode PolicyError} (naming the field) when refused. */
  apply(value: unknown, source: string): void {
    const policy = parsePolicy(value, this.#classes);
    const module = this.#opts.module;
    if (module !== null && module.acceptsPolicy) {
      const result = module.loadPolicy(modulePolicyJson(policy));
      if (!result.ok) throw new PolicyError(`Refused by the module: ${result.error}`);
    }
    this.#policy = policy;
    this.#source = source;
    const classes = new Map<string, string>();
    for (const [name, role] of Object.entries(policy.roles)) {
      if (role.rateClass !== undefined) classes.set(name, role.rateClass);
    }
    this.#classOfRole = classes;
  }

  /** A live update: applied if valid, else logged, counted and refused (the old policy stays). */
  update(value: unknown, source: string): PolicyUpdate {
    if (typeof value === "string") {
      if (value === this.#lastText) return { ok: true, changed: false };
    }
    try {
      this.apply(value, source);
    } catch (e) {
      const error = e instanceof PolicyError ? e.message : `Policy could not be loaded: ${e}`;
      this.#opts.loads.inc({ outcome: "rejected" });
      this.#opts.log.error("authz policy update rejected; keeping the previous policy", {
        source,
        error,
      });
      if (typeof value === "string") this.#lastText = value; // do not re-log the same text
      return { ok: false, error };
    }
    if (typeof value === "string") this.#lastText = value;
    this.#opts.loads.inc({ outcome: "applied" });
    this.#opts.log.info("authz policy applied", { source });
    return { ok: true, changed: true };
  }

  /** Remembers the text of the policy applied at start-up (so an unchanged file is skipped). */
  markText(text: string): void {
    this.#lastText = text;
  }

  /** The rate class for a set of roles: the fastest class any of them names, else the default. */
  rateClassOf(roles: readonly string[]): string {
    let best: string | null = null;
    let bestRate = -1;
    for (const role of roles) {
      const cls = this.#classOfRole.get(role);
      if (cls === undefined) continue;
      const rate = this.#opts.classRates.get(cls) ?? 0;
      if (rate > bestRate) {
        best = cls;
        bestRate = rate;
      }
    }
    return best ?? this.#opts.defaultClass;
  }
}

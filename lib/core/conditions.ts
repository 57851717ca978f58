/**
 * Conditions that make the node degraded or unhealthy whatever its traffic says: a policy module
 * that did not load, every origin out of rotation, a KV store that cannot be written, a missing
 * secret. Any stage can raise one by name (and clear it), or register a check that health runs
 * each time it is evaluated. Health reports them even with too few requests to judge the window.
 */

/**
 * The condition raised while slow extras come up after the node started listening (the IP
 * database): health reports it, but health transitions and alerts leave it out, as every start
 * (every new isolate on Deno Deploy) goes through it.
 */
export const WARMING_CONDITION = "warming";

/** `degraded`: the node serves, but something is off (health stays 200). `unhealthy`: 503. */
export type ConditionLevel = "degraded" | "unhealthy";

/** One condition in force. */
export interface HealthCondition {
  /** A stable machine name, e.g. `kv.write`, `authz.module`, `secret.JWT_SECRET`. */
  name: string;
  level: ConditionLevel;
  /** What is wrong and what it affects, in words (no secrets, no internal addresses). */
  reason: string;
}

/** A check run on every health evaluation: cheap and synchronous; null when all is well. */
export type ConditionCheck = () => { level: ConditionLevel; reason: string } | null;

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_REASON = 300;

function validName(name: string): string {
  if (!NAME.test(name)) throw new TypeError(`Invalid health condition name: ${name.slice(0, 80)}`);
  return name;
}

/** The registry of conditions health reads. */
export class HealthConditions {
  readonly #raised = new Map<string, HealthCondition>();
  readonly #checks = new Map<string, ConditionCheck>();
  /** Called when a check throws (the condition is then reported as degraded). */
  readonly #onCheckError: (name: string, error: unknown) => void;

  constructor(options: { onCheckError?: (name: string, error: unknown) => void } = {}) {
    this.#onCheckError = options.onCheckError ?? (() => {});
  }

  /** Raises `name` (or replaces its level and reason) until {@linkcode HealthConditions.clear}. */
  raise(name: string, level: ConditionLevel, reason: string): void {
    if (this.#checks.has(validName(name))) {
      throw new Error(`Health condition ${name} is a registered check`);
    }
    this.#raised.set(name, { name, level, reason: reason.slice(0, MAX_REASON) });
  }

  /** Clears a raised condition (no-op when it was not raised). */
  clear(name: string): void {
    this.#raised.delete(name);
  }

  /** Registers a check under `name`; a name can be registered once. */
  check(name: string, check: ConditionCheck): void {
    if (this.#checks.has(validName(name)) || this.#raised.has(name)) {
      throw new Error(`Health condition already registered: ${name}`);
    }
    this.#checks.set(name, check);
  }

  /** Every condition in force now: unhealthy ones first, then by name. */
  list(): HealthCondition[] {
    const out = [...this.#raised.values()];
    for (const [name, check] of this.#checks) {
      let result;
      try {
        result = check();
      } catch (error) {
        this.#onCheckError(name, error);
        result = { level: "degraded" as const, reason: `health check ${name} failed` };
      }
      if (result !== null) {
        out.push({ name, level: result.level, reason: result.reason.slice(0, MAX_REASON) });
      }
    }
    if (out.length > 1) {
      out.sort((a, b) =>
        a.level === b.level ? (a.name < b.name ? -1 : 1) : a.level === "unhealthy" ? -1 : 1
      );
    }
    return out;
  }
}

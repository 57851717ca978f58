/**
 * The authz feature: authorization of protected routes (JWT, the WASM policy module, rate
 * limits), as the stage after credentials and before tracking; a protected path never takes the
 * fast path before routing.
 */

import type { ConditionCheck } from "../../core/conditions.ts";
import type { Feature } from "../../core/feature.ts";
import { AUTHZ_CONFIG, type AUTHZ_FIELDS } from "./config.ts";
import { type Authz, createAuthz } from "./setup.ts";

declare module "../../core/feature.ts" {
  interface FeatureApis {
    authz: Authz;
  }
  interface FeatureInputs {
    /** Authorization module bytes instead of reading `authz.wasm.path`. */
    authzWasm?: Uint8Array;
    /** `authzWasm` compiled ahead (main.ts compiles it while KV opens). */
    authzModule?: WebAssembly.Module;
  }
}

/** A policy module that did not load, or stopped and could not restart, denies with 503. */
function policyModuleCheck(authz: Authz): ConditionCheck {
  return () => {
    if (authz.module === null) {
      return {
        level: "unhealthy",
        reason: "the authorization policy module did not load: protected routes answer 503 " +
          "(or fail open where configured)",
      };
    }
    if (!authz.module.running) {
      return {
        level: "unhealthy",
        reason: "the authorization policy module stopped and could not restart: protected " +
          "routes answer 503 (or fail open where configured)",
      };
    }
    return null;
  };
}

/** The feature's registration. */
export const authzFeature: Feature<"authz", typeof AUTHZ_FIELDS> = {
  name: "authz",
  config: AUTHZ_CONFIG,
  create(svc) {
    const authz = createAuthz({
      config: svc.config,
      kv: svc.kv,
      clock: svc.clock,
      log: svc.log,
      metrics: svc.metrics,
      jobs: svc.jobs,
      fetch: svc.fetch,
      jwtSecret: svc.secrets.JWT_SECRET,
      wasm: svc.inputs.authzWasm,
      wasmModule: svc.inputs.authzModule,
    });
    if (authz === null) return {};
    return {
      api: authz,
      // Only protected patterns pay for it: other routes pass on at once.
      stages: [{ phase: "authorize", handler: authz.gate }],
      fastPath: { veto: (method, path) => authz.protects(method, path) },
      conditions: { "authz.module": policyModuleCheck(authz) },
      missingSecrets: authz.missing ? [{ name: authz.missing, disables: "protected routes" }] : [],
    };
  },
};

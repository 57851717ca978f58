/** Shared fixtures for the authorization tests: the real module, a policy, tokens. */

import { sign } from "hono/jwt";
import { PolicyModule } from "../../../lib/features/authz/wasm_module.ts";
import type { PolicyInput } from "../../../lib/features/authz/policy.ts";

/** The committed module's bytes. */
export const WASM = Deno.readFileSync(new URL("../../../wasm/authz/authz.wasm", import.meta.url));

/** A test HS256 secret (at least 32 characters). */
export const SECRET = "test-secret-for-outpost-authz-0123456789";

/** The policy the decision tables use. */
export const POLICY: PolicyInput = {
  version: 1,
  roles: {
    viewer: { allow: ["*:read"], rateClass: "standard" },
    editor: {
      allow: ["*:read", "items:*", "crdt:write"],
      deny: ["admin:*"],
      rateClass: "standard",
    },
    admin: { allow: ["*"], rateClass: "premium" },
    auditor: { allow: ["audit:read", "users:read"], deny: ["users:read"] },
    anonymous: { allow: ["public:read"] },
  },
  geo: [
    { actions: ["items:write", "items:delete"], deny: ["KP", "IR"] },
    { actions: ["payments:*"], allow: ["US", "CA"] },
    { actions: ["export:*"], allow: ["DE"], unknown: "allow" },
  ],
};

/** Loads the real module with the test limits. */
export function loadRealModule(): PolicyModule {
  return PolicyModule.load(WASM, { maxMemoryPages: 32, maxInputBytes: 16384 });
}

/** Signs claims with HS256 (defaults: an hour of validity from `nowS`). */
export async function token(
  claims: Record<string, unknown>,
  options: { secret?: string; nowS?: number } = {},
): Promise<string> {
  const now = options.nowS ?? Math.floor(Date.now() / 1000);
  return await sign({ iat: now, exp: now + 3600, ...claims }, options.secret ?? SECRET, "HS256");
}

/** base64url of a JSON value (for hand-made tokens). */
export function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

import assert from "node:assert/strict";
import fc from "fast-check";
import { modulePolicyJson, parsePolicy } from "../../../lib/features/authz/policy.ts";
import type { DecisionInput } from "../../../lib/features/authz/wasm_module.ts";
import { loadRealModule, POLICY, WASM } from "./_fixtures.ts";

const CLASSES = new Set(["standard", "premium"]);
const RATE_OK = { remaining: 5, limit: 10, reset_s: 3 };

function input(over: Partial<DecisionInput>): DecisionInput {
  return {
    user_id: "alice",
    roles: ["viewer"],
    action: "items:read",
    resource: "/items/1",
    country: "US",
    rate: RATE_OK,
    ...over,
  };
}

function loaded() {
  const m = loadRealModule();
  const r = m.loadPolicy(modulePolicyJson(parsePolicy(POLICY, CLASSES)));
  assert.deepEqual(r, { ok: true });
  return m;
}

Deno.test("authz.wasm authorize() follows the policy decision table", async (t) => {
  const m = loaded();
  const table: [string, Partial<DecisionInput>, number, string][] = [
    ["viewer reads anything", { action: "users:read" }, 200, "ok"],
    ["viewer cannot write", { action: "items:write" }, 403, "permission_denied"],
    ["editor writes items", { roles: ["editor"], action: "items:write" }, 200, "ok"],
    ["editor deletes items (items:*)", { roles: ["editor"], action: "items:delete" }, 200, "ok"],
    [
      "editor cannot write users",
      { roles: ["editor"], action: "users:write" },
      403,
      "permission_denied",
    ],
    [
      "deny beats allow in the same role",
      { roles: ["editor"], action: "admin:read" },
      403,
      "permission_denied",
    ],
    [
      "deny in one role beats allow in another",
      { roles: ["admin", "auditor"], action: "users:read" },
      403,
      "permission_denied",
    ],
    ["admin does anything", { roles: ["admin"], action: "billing:purge" }, 200, "ok"],
    ["no roles: nothing", { roles: [], action: "items:read" }, 403, "permission_denied"],
    ["unknown roles are ignored", { roles: ["ghost", "viewer"] }, 200, "ok"],
    [
      "anonymous reads public",
      { user_id: null, roles: ["anonymous"], action: "public:read" },
      200,
      "ok",
    ],
    [
      "geo deny list",
      { roles: ["editor"], action: "items:write", country: "KP" },
      403,
      "geo_restricted",
    ],
    [
      "geo deny list lets others through",
      { roles: ["editor"], action: "items:write", country: "FR" },
      200,
      "ok",
    ],
    [
      "geo deny list, unknown country allowed",
      { roles: ["editor"], action: "items:write", country: null },
      200,
      "ok",
    ],
    [
      "geo rule does not touch other actions",
      { roles: ["editor"], action: "items:read", country: "KP" },
      200,
      "ok",
    ],
    [
      "geo allow list admits",
      { roles: ["admin"], action: "payments:charge", country: "CA" },
      200,
      "ok",
    ],
    [
      "geo allow list refuses",
      { roles: ["admin"], action: "payments:charge", country: "FR" },
      403,
      "geo_restricted",
    ],
    [
      "geo allow list refuses unknown",
      { roles: ["admin"], action: "payments:charge", country: null },
      403,
      "geo_restricted",
    ],
    [
      "unknown: allow overrides",
      { roles: ["admin"], action: "export:run", country: null },
      200,
      "ok",
    ],
    [
      "rate: over the limit",
      { rate: { remaining: -1, limit: 10, reset_s: 4 } },
      429,
      "rate_limited",
    ],
    ["rate: last one left", { rate: { remaining: 0, limit: 10, reset_s: 4 } }, 200, "ok"],
    [
      "permission is decided before rate",
      { action: "items:write", rate: { remaining: -1, limit: 10, reset_s: 1 } },
      403,
      "permission_denied",
    ],
  ];
  for (const [name, over, status, code] of table) {
    await t.step(name, () => {
      const d = m.authorize(input(over));
      assert.equal(d.status, status, d.reason);
      assert.equal(d.code, code);
      assert.equal(d.allowed, status === 200);
      assert.ok(d.reason.length > 0);
    });
  }
  await t.step("reasons name the role, action and country", () => {
    assert.equal(
      m.authorize(input({ roles: ["editor"], action: "admin:read" })).reason,
      "Role editor may not admin:read",
    );
    assert.equal(
      m.authorize(input({ roles: ["editor"], action: "items:write", country: "IR" })).reason,
      "items:write is not available in IR",
    );
    assert.equal(
      m.authorize(input({ rate: { remaining: -1, limit: 60, reset_s: 1 } })).reason,
      "Rate limit of 60 requests exceeded",
    );
    assert.equal(m.authorize(input({})).reason, "Allowed by role viewer");
  });
});

Deno.test("authz.wasm authorize() refuses malformed input with invalid_input", async (t) => {
  const m = loaded();
  const bad: [string, unknown][] = [
    ["missing rate", { ...input({}), rate: undefined }],
    ["roles not strings", { ...input({}), roles: [1] }],
    ["action without verb", input({ action: "items" })],
    ["wildcard action", input({ action: "*:read" })],
    ["two colons", input({ action: "a:b:c" })],
    ["lower-case country", input({ country: "us" })],
    ["negative remaining below -1", input({ rate: { remaining: -2, limit: 1, reset_s: 0 } })],
    ["too many roles", input({ roles: Array.from({ length: 65 }, (_, i) => `r${i}`) })],
  ];
  for (const [name, value] of bad) {
    await t.step(name, () => {
      const d = m.authorize(value as DecisionInput);
      assert.equal(d.allowed, false);
      assert.equal(d.code, "invalid_input");
      assert.equal(d.status, 400);
    });
  }
});

Deno.test("authz.wasm load_policy() refuses a bad policy and keeps the old one", () => {
  const m = loaded();
  const r = m.loadPolicy(JSON.stringify({ roles: { x: { allow: ["nope"] } } }));
  assert.deepEqual(r, {
    ok: false,
    error: "roles.x.allow.0: Not an action pattern (resource:verb)",
  });
  assert.equal(m.loadPolicy("{").ok, false);
  assert.equal(m.authorize(input({})).code, "ok", "the previous policy is still in force");
});

/** Calls the raw ABI with arbitrary bytes. */
function rawCall(bytes: Uint8Array): string {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(WASM), {});
  const ex = instance.exports as {
    memory: WebAssembly.Memory;
    alloc(n: number): number;
    authorize(p: number, l: number): bigint;
    dealloc(p: number, l: number): void;
  };
  return rawOn(ex, bytes);
}

function rawOn(ex: {
  memory: WebAssembly.Memory;
  alloc(n: number): number;
  authorize(p: number, l: number): bigint;
  dealloc(p: number, l: number): void;
}, bytes: Uint8Array): string {
  const p = ex.alloc(bytes.length);
  new Uint8Array(ex.memory.buffer, p, bytes.length).set(bytes);
  const r = ex.authorize(p, bytes.length);
  ex.dealloc(p, bytes.length);
  const ptr = Number(r >> 32n);
  const len = Number(r & 0xffffffffn);
  return new TextDecoder("utf-8", { fatal: true }).decode(
    new Uint8Array(ex.memory.buffer, ptr, len),
  );
}

function assertDecision(text: string): void {
  const d = JSON.parse(text);
  assert.equal(typeof d.allowed, "boolean", text);
  assert.ok(Number.isInteger(d.status), text);
  assert.equal(typeof d.reason, "string", text);
  assert.equal(typeof d.code, "string", text);
}

Deno.test("authz.wasm authorize() never traps and always answers JSON (fuzz)", async (t) => {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(WASM), {});
  const ex = instance.exports as Parameters<typeof rawOn>[0];
  const policy = new TextEncoder().encode(modulePolicyJson(parsePolicy(POLICY, CLASSES)));
  const pp = ex.alloc(policy.length);
  new Uint8Array(ex.memory.buffer, pp, policy.length).set(policy);
  (instance.exports.load_policy as (p: number, l: number) => bigint)(pp, policy.length);

  await t.step("arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => assertDecision(rawOn(ex, bytes))),
      { numRuns: 3000 },
    );
  });
  await t.step("arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (s) => {
        assertDecision(rawOn(ex, new TextEncoder().encode(s)));
      }),
      { numRuns: 3000 },
    );
  });
  await t.step("arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        assertDecision(rawOn(ex, new TextEncoder().encode(JSON.stringify(v))));
      }),
      { numRuns: 2000 },
    );
  });
  const field = fc.oneof(
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.constantFrom("items:read", "items:write", "*:*", "a:b", ":", "x:"),
    fc.constant(null),
    fc.integer(),
    fc.double(),
  );
  await t.step("inputs of nearly the right shape agree with a decision", () => {
    fc.assert(
      fc.property(
        fc.record({
          user_id: field,
          roles: fc.array(fc.oneof(fc.constantFrom("viewer", "editor", "admin"), field), {
            maxLength: 70,
          }),
          action: field,
          resource: field,
          country: fc.oneof(fc.constantFrom("US", "KP", "CA"), field),
          rate: fc.record({ remaining: field, limit: field, reset_s: field }),
          extra: fc.jsonValue({ maxDepth: 3 }),
        }, { requiredKeys: [] }),
        (v) => {
          const text = rawOn(ex, new TextEncoder().encode(JSON.stringify(v)));
          assertDecision(text);
        },
      ),
      { numRuns: 3000 },
    );
  });
  await t.step("deeply nested and oversized values", () => {
    const deep = [
      "[".repeat(10000),
      '{"a":'.repeat(5000),
      `{"extra":${"[".repeat(10000)}`,
      `{"extra":${"[".repeat(31)}${"]".repeat(31)},"user_id":null}`,
      `"${"\\u00e9".repeat(5000)}"`,
    ];
    for (const s of deep) {
      assertDecision(rawCall(new TextEncoder().encode(s)));
    }
    const huge = JSON.stringify(input({ action: `${"a".repeat(20000)}:read` }));
    assertDecision(rawOn(ex, new TextEncoder().encode(huge)));
  });
  await t.step("memory does not grow with use", () => {
    const before = ex.memory.buffer.byteLength;
    const ok = new TextEncoder().encode(JSON.stringify(input({})));
    for (let i = 0; i < 20000; i++) rawOn(ex, ok);
    assert.equal(ex.memory.buffer.byteLength, before);
  });
});

Deno.test("authz.wasm escapes what it echoes, so reasons stay valid JSON", () => {
  const m = loaded();
  const d = m.authorize(input({ action: 'a"\\\u0001\u00e9\ud83d\ude00:x', roles: ["viewer"] }));
  assert.equal(d.code, "permission_denied");
  assert.equal(d.reason, 'No role of this user allows a"\\\u0001\u00e9\ud83d\ude00:x');
});

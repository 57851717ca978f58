import assert from "node:assert/strict";
import { compileActions } from "../../../lib/features/authz/actions.ts";
import { AuthzConfigSchema } from "../../../lib/features/authz/config.ts";
import { rateLimitHeader, rateLimitPolicyHeader } from "../../../lib/features/authz/headers.ts";
import {
  DEFAULT_POLICY,
  modulePolicyJson,
  parsePolicy,
} from "../../../lib/features/authz/policy.ts";
import { ConfigError } from "../../../lib/platform/config/errors.ts";
import { loadConfig } from "../../../lib/core/config.ts";
import { mintToken } from "../../../tools/token.ts";
import { decode } from "hono/jwt";
import { POLICY } from "./_fixtures.ts";

const CLASSES = new Set(["standard", "premium"]);

Deno.test("compileActions() derives actions from method and route", async (t) => {
  const defaults = AuthzConfigSchema.parse({}).actions;
  await t.step("defaults: the first segment after a mount, the verb from the method", () => {
    const resolve = compileActions(defaults);
    assert.equal(resolve("GET", "/api/users/7"), "users:read");
    assert.equal(resolve("HEAD", "/api/users"), "users:read");
    assert.equal(resolve("PUT", "/items/abc"), "items:write");
    assert.equal(resolve("POST", "/crdt/counter/x"), "crdt:write");
    assert.equal(resolve("DELETE", "/items/abc"), "items:delete");
    assert.equal(resolve("GET", "/api"), "root:read");
    assert.equal(resolve("GET", "/apiary/x"), "apiary:read", "a mount matches whole segments");
    assert.equal(resolve("GET", "/api/Weird Name!"), "weird_name_:read");
    assert.equal(resolve("TRACE", "/api/x"), null);
  });
  await t.step("explicit rules win, with :params and a final *", () => {
    const resolve = compileActions({
      ...defaults,
      rules: [
        { methods: ["GET"], path: "/api/users/:id", action: "profiles:view" },
        { path: "/api/admin/*", action: "admin:any" },
      ],
    });
    assert.equal(resolve("GET", "/api/users/7"), "profiles:view");
    assert.equal(resolve("PUT", "/api/users/7"), "users:write");
    assert.equal(resolve("GET", "/api/users/7/posts"), "users:read");
    assert.equal(resolve("DELETE", "/api/admin/x/y"), "admin:any");
    assert.equal(resolve("GET", "/api/admin"), "admin:any");
  });
});

Deno.test("parsePolicy() validates and names the offending field", async (t) => {
  assert.ok(parsePolicy(POLICY, CLASSES));
  assert.ok(parsePolicy(DEFAULT_POLICY, CLASSES));
  const bad: [string, unknown, RegExp][] = [
    ["not JSON", "{", /\(root\): Not valid JSON/],
    [
      "bad pattern",
      { roles: { r: { allow: ["items"] } } },
      /roles\.r\.allow\.0: Not an action pattern/,
    ],
    ["bad role name", { roles: { "a b": {} } }, /roles\.a b: Must be 1-64/],
    ["unknown key", { roles: { r: { alow: [] } } }, /roles\.r: Unrecognized key/],
    [
      "unknown country",
      { roles: {}, geo: [{ actions: ["a:b"], deny: ["XX"] }] },
      /geo\.0\.deny\.0/,
    ],
    [
      "geo without lists",
      { roles: {}, geo: [{ actions: ["a:b"] }] },
      /geo\.0: A geo rule needs allow or deny/,
    ],
    [
      "unknown class",
      { roles: { r: { rateClass: "gold" } } },
      /roles\.r\.rateClass: Unknown rate class: gold/,
    ],
    ["wrong version", { version: 2, roles: {} }, /version/],
  ];
  for (const [name, value, message] of bad) {
    await t.step(name, () => {
      assert.throws(() => parsePolicy(typeof value === "string" ? value : value, CLASSES), message);
    });
  }
  await t.step("the module receives roles and geo rules only", () => {
    const json = JSON.parse(modulePolicyJson(parsePolicy(POLICY, CLASSES)));
    assert.deepEqual(Object.keys(json), ["roles", "geo"]);
    assert.deepEqual(json.roles.viewer, { allow: ["*:read"], deny: [] });
  });
});

Deno.test("loadConfig() reads the authz section and its environment variables", async (t) => {
  const base = { env: { KV_PATH: ":memory:" } };
  await t.step("defaults", () => {
    const c = loadConfig(base).authz;
    assert.equal(c.enabled, true);
    assert.deepEqual(c.protect.map((p) => p.path), ["/api/*", "/items/*", "/crdt/*"]);
    assert.equal(c.jwt.algorithm, "HS256");
    assert.equal(c.rateLimit.localAllowance, 10);
  });
  await t.step("AUTHZ_ENABLED and AUTHZ_POLICY", () => {
    assert.equal(loadConfig({ env: { ...base.env, AUTHZ_ENABLED: "false" } }).authz.enabled, false);
    const inline = loadConfig({ env: { ...base.env, AUTHZ_POLICY: '{"roles":{"r":{}}}' } });
    assert.deepEqual(Object.keys(inline.authz.policy!.roles), ["r"]);
    const file = loadConfig({ env: { ...base.env, AUTHZ_POLICY: "policy.json" } });
    assert.equal(file.authz.policyPath, "policy.json");
  });
  await t.step("bad values stop start-up naming the field", () => {
    const cases: [Record<string, unknown>, Record<string, string>, RegExp][] = [
      [{}, { AUTHZ_POLICY: "{nope" }, /AUTHZ_POLICY \(authz\.policy\): Not valid JSON/],
      [
        {},
        { AUTHZ_POLICY: '{"roles":{"r":{"allow":["x"]}}}' },
        /authz\.policy\.roles\.r\.allow\.0 \(from AUTHZ_POLICY\)/,
      ],
      [
        { authz: { rateLimit: { defaultClass: "gold" } } },
        {},
        /authz\.rateLimit\.defaultClass: Unknown rate class: gold/,
      ],
      [
        { authz: { jwt: { algorithm: "RS256" } } },
        {},
        /authz\.jwt\.publicKey: RS256 needs publicKey/,
      ],
      [
        { authz: { jwt: { jwksUrl: "https://id.example/jwks.json" } } },
        {},
        /authz\.jwt\.algorithm: publicKey, jwks and jwksUrl need RS256 or ES256/,
      ],
      [{ authz: { protect: [{ path: "api" }] } }, {}, /authz\.protect\.0\.path/],
      [{ authz: { wasm: { maxMemoryPages: 0 } } }, {}, /authz\.wasm\.maxMemoryPages/],
    ];
    for (const [module, env, message] of cases) {
      assert.throws(() => loadConfig({ env: { ...base.env, ...env }, module }), (e) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, message);
        return true;
      });
    }
  });
});

Deno.test("rateLimitHeader() and rateLimitPolicyHeader() write IETF structured fields", () => {
  assert.equal(rateLimitPolicyHeader("standard", 600, 60), '"standard";q=600;w=60');
  assert.equal(rateLimitHeader("standard", 41.7, 2.2), '"standard";r=41;t=3');
  assert.equal(rateLimitHeader("standard", -1, -5), '"standard";r=0;t=0');
});

Deno.test("mintToken() signs what the edge accepts", async () => {
  const t = await mintToken(
    { sub: "alice", roles: ["editor"], ttlS: 60, now: 1000 },
    "s".repeat(32),
  );
  const { header, payload } = decode(t);
  assert.equal(header.alg, "HS256");
  assert.deepEqual(payload, { sub: "alice", roles: ["editor"], iat: 1000, exp: 1060 });
});

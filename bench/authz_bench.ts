/**
 * Authorization micro-benchmarks: one decision through the module's ABI (target: median under
 * 5 µs), and the whole middleware on an allowed request with a cached token and the local
 * allowance (target: under 20 µs; compare with the same route without it).
 * Run: deno bench --allow-all bench/authz_bench.ts
 */

import { Hono } from "hono";
import { sign } from "hono/jwt";
import type { AppEnv, EdgeRequestContext } from "../lib/core/request.ts";
import { createAuthz } from "../lib/features/authz/setup.ts";
import { modulePolicyJson, parsePolicy, type PolicyInput } from "../lib/features/authz/policy.ts";
import { PolicyModule } from "../lib/features/authz/wasm_module.ts";
import { systemClock } from "../lib/core/clock.ts";
import { loadConfig } from "../lib/core/config.ts";
import { Jobs } from "../lib/core/jobs.ts";
import { silentLogger } from "../lib/core/log.ts";
import { MetricsRegistry } from "../lib/core/metrics.ts";
import { type CanonicalTarget, canonicalTarget } from "../lib/platform/http/target.ts";

const SECRET = "bench-secret-for-outpost-authz-0123456789";
const POLICY: PolicyInput = {
  roles: {
    viewer: { allow: ["*:read"], rateClass: "bench" },
    editor: { allow: ["*:read", "items:*"], deny: ["admin:*"], rateClass: "bench" },
  },
  geo: [{ actions: ["items:write"], deny: ["KP", "IR"] }],
};
const WASM = Deno.readFileSync(new URL("../wasm/authz/authz.wasm", import.meta.url));

const module = PolicyModule.load(WASM, { maxMemoryPages: 32, maxInputBytes: 16384 });
module.loadPolicy(modulePolicyJson(parsePolicy(POLICY, new Set(["bench"]))));
const INPUT = {
  user_id: "alice",
  roles: ["viewer", "editor"],
  action: "items:write",
  resource: "/api/items/42",
  country: "US",
  rate: { remaining: 99, limit: 1000, reset_s: 1 },
};

Deno.bench("authorize() through the ABI (stringify, call, parse)", { group: "decision" }, () => {
  module.authorize(INPUT);
});

// The raw call alone, for the share of the module itself.
const raw = new WebAssembly.Instance(new WebAssembly.Module(WASM), {}).exports as {
  memory: WebAssembly.Memory;
  alloc(n: number): number;
  load_policy(p: number, l: number): bigint;
  authorize(p: number, l: number): bigint;
};
function put(text: string): [number, number] {
  const bytes = new TextEncoder().encode(text);
  const p = raw.alloc(bytes.length);
  new Uint8Array(raw.memory.buffer, p, bytes.length).set(bytes);
  return [p, bytes.length];
}
raw.load_policy(...put(modulePolicyJson(parsePolicy(POLICY, new Set(["bench"])))));
const [inPtr, inLen] = put(JSON.stringify(INPUT));
Deno.bench("authorize() inside the module only", { group: "decision" }, () => {
  raw.authorize(inPtr, inLen);
});

async function app(localAllowance: number, protect: boolean): Promise<Hono<AppEnv>> {
  const config = loadConfig({
    env: { KV_PATH: ":memory:" },
    module: {
      authz: {
        policy: POLICY,
        rateLimit: {
          classes: { bench: { limit: 1_000_000, windowS: 1 } },
          defaultClass: "bench",
          anonymousClass: "bench",
          localAllowance,
        },
      },
    },
  });
  const kv = await Deno.openKv(":memory:");
  const authz = createAuthz({
    config,
    kv,
    clock: systemClock,
    log: silentLogger,
    metrics: new MetricsRegistry(),
    jobs: new Jobs(silentLogger),
    jwtSecret: SECRET,
  })!;
  const hono = new Hono<AppEnv>();
  if (protect) authz.register(hono);
  hono.get("/api/echo", () => new Response("ok"));
  return hono;
}

const token = await sign(
  { sub: "alice", roles: ["viewer"], exp: Math.floor(Date.now() / 1000) + 86400 },
  SECRET,
  "HS256",
);
const HEADERS = { authorization: `Bearer ${token}` };
const TARGET = canonicalTarget("http://edge/api/echo", "edge") as CanonicalTarget;
function context(): EdgeRequestContext {
  return {
    requestId: "bench",
    startedAt: 0,
    target: TARGET,
    href: TARGET.url,
    peerIp: "127.0.0.1",
    peerTrusted: true,
    clientIp: "127.0.0.1",
    clientProto: "http",
    geo: { country: "US" } as EdgeRequestContext["geo"],
    variants: {},
    originHeaders: {},
    timings: [],
    originWaitMs: 0,
  };
}

const plain = await app(10, false);
const protected10 = await app(10, true);
const protected100 = await app(100, true);
for (const a of [protected10, protected100]) {
  const res = await a.fetch(new Request("http://edge/api/echo", { headers: HEADERS }), {
    ctx: context(),
  });
  if (res.status !== 200) throw new Error(`bench setup: ${res.status} ${await res.text()}`);
}

Deno.bench(
  "GET /api/echo unprotected (baseline)",
  { group: "middleware", baseline: true },
  async () => {
    await plain.fetch(new Request("http://edge/api/echo", { headers: HEADERS }), {
      ctx: context(),
    });
  },
);
Deno.bench("GET /api/echo authorized (local allowance 10)", { group: "middleware" }, async () => {
  await protected10.fetch(new Request("http://edge/api/echo", { headers: HEADERS }), {
    ctx: context(),
  });
});
Deno.bench("GET /api/echo authorized (local allowance 100)", { group: "middleware" }, async () => {
  await protected100.fetch(new Request("http://edge/api/echo", { headers: HEADERS }), {
    ctx: context(),
  });
});

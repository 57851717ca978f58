/**
 * Fault injection: a scripted origin on a real socket (5xx on one path, refused connections,
 * a body reset mid-way, a hang, recovery) behind an edge answering in process. Each case says
 * what every other path gets, how many requests recovery takes, and what health says.
 */

import assert from "node:assert/strict";
import { createApp, type Edge } from "../../../lib/core/app.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import type { EdgeConfigInput } from "../../../lib/core/config.ts";
import { makeConfig } from "../../helpers.ts";
import { ScriptedOrigin } from "./_scripted_origin.ts";

/** Public health names an origin by the regions it serves (here: one origin for all four). */
const ALL_REGIONS = "us-west,us-east,eu-west,ap-southeast";

interface TestEdge extends AsyncDisposable {
  edge: Edge;
  clock: ManualClock;
}

/** An edge whose every region points at `origins` (a string: one origin, as `ORIGIN_URL`). */
async function makeEdge(
  origins: Parameters<typeof makeConfig>[0],
  overrides: Partial<EdgeConfigInput> = {},
): Promise<TestEdge> {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const edge = createApp({ config: makeConfig(origins, overrides), kv, clock });
  return {
    edge,
    clock,
    async [Symbol.asyncDispose]() {
      await edge.close();
      kv.close();
    },
  };
}

interface Answer {
  status: number;
  region: string | null;
  code: string | null;
  body: Record<string, unknown> | string;
}

async function ask(edge: Edge, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await edge.fetch(new Request(`http://edge.test${path}`, init));
  const text = await res.text();
  let body: Record<string, unknown> | string = text;
  if (res.headers.get("content-type")?.includes("json")) body = JSON.parse(text);
  return {
    status: res.status,
    region: res.headers.get("x-upstream-region"),
    code: typeof body === "object" ? (body.code as string | undefined) ?? null : null,
    body,
  };
}

interface Health {
  http: number;
  status: string;
  reasons: string[];
  conditions?: Record<string, string>;
  edge_error_rate: number | null;
  origin_error_rate: number | null;
  origins?: Record<string, { state: string; paths?: Record<string, { state: string }> }>;
}

async function health(edge: Edge, verbose = false): Promise<Health> {
  const res = await edge.fetch(
    new Request(`http://edge.test/_edge/health${verbose ? "?verbose=1" : ""}`),
  );
  return { http: res.status, ...(await res.json()) };
}

Deno.test("an origin answering 5xx on one path: every other path is served, health stays ok", async (t) => {
  await using origin = new ScriptedOrigin();
  origin.set("/broken", { kind: "status", status: 503 });
  origin.set("/error", { kind: "status", status: 500 });
  // One origin for every region, as with ORIGIN_URL.
  await using e = await makeEdge(origin.url);

  await t.step("the 5xx are passed through, each request reaching the origin once", async () => {
    for (let i = 1; i <= 30; i++) {
      const broken = await ask(e.edge, i % 2 ? "/broken" : "/error");
      assert.equal(broken.status, i % 2 ? 503 : 500);
      assert.equal(broken.body, `answered ${broken.status}`, "the origin's own answer");
      const other = await ask(e.edge, `/page/${i}`);
      assert.equal(other.status, 200, `other paths are served after ${i} errors`);
    }
    assert.equal(origin.hits("/broken"), 15, "a retry never hits the same origin twice");
    assert.equal(origin.hits("/error"), 15);
  });
  await t.step("health: the origin's errors are shown, the edge's are none", async () => {
    const h = await health(e.edge);
    assert.equal(h.http, 200);
    assert.equal(h.status, "ok");
    assert.equal(h.edge_error_rate, 0);
    assert.equal(h.origin_error_rate, 0.5);
    assert.equal(h.origins, undefined, "no breaker opened");
    assert.equal(h.conditions, undefined);
  });
});

Deno.test("metrics.health.countOriginErrors judges the origin's 5xx too", async () => {
  await using origin = new ScriptedOrigin();
  origin.set("/broken", { kind: "status", status: 500 });
  await using e = await makeEdge(origin.url, {
    metrics: { health: { countOriginErrors: true } },
  });
  for (let i = 0; i < 25; i++) await ask(e.edge, "/broken");
  const h = await health(e.edge);
  assert.equal(h.http, 503);
  assert.match(h.reasons[0], /^error rate 100\.0% ≥ 1\.00% \(25 of 25 requests/);
});

Deno.test("countStatuses: a broken path group is out for that origin only", async () => {
  await using near = new ScriptedOrigin();
  await using far = new ScriptedOrigin();
  near.set("/broken/a", { kind: "status", status: 503 });
  near.set("/broken/b", { kind: "status", status: 503 });
  // us-east (the default region) is nearest; us-west next.
  await using e = await makeEdge({ "us-east": near.url, "us-west": far.url }, {
    proxy: { breaker: { countStatuses: [500, 503] } },
  });
  for (let i = 0; i < 3; i++) {
    // Retried on the next origin (idempotent GET answered 503): served by far.
    assert.equal((await ask(e.edge, "/broken/a")).region, "us-west");
  }
  assert.equal(near.hits("/broken/a"), 3);
  const out = await ask(e.edge, "/broken/b");
  assert.equal(out.status, 200);
  assert.equal(out.region, "us-west", "the /broken group skips near without trying it");
  assert.equal(near.hits("/broken/b"), 0);
  for (const path of ["/page", "/api/x", "/brokenish"]) {
    assert.equal((await ask(e.edge, path)).region, "us-east", `${path} still goes to near`);
  }
  const h = await health(e.edge, true);
  assert.equal(h.status, "ok", "an origin's broken endpoint is not the edge's fault");
  assert.equal(h.origins?.[near.url].state, "closed");
  assert.equal(h.origins?.[near.url].paths?.["/broken"].state, "open");
  // After the cool-down one trial goes back to near; its success closes the group.
  near.set("/broken/a", { kind: "ok" });
  e.clock.advance(10_000);
  assert.equal((await ask(e.edge, "/broken/a")).region, "us-east");
  assert.equal((await ask(e.edge, "/broken/b")).region, "us-west", "b still fails on near");
});

for (const mode of ["panic", "probe"] as const) {
  Deno.test(`refused connections, then recovery within one request (whenAllOut: ${mode})`, async (t) => {
    await using origin = new ScriptedOrigin();
    await using e = await makeEdge(origin.url, { proxy: { breaker: { whenAllOut: mode } } });
    assert.equal((await ask(e.edge, "/warm")).status, 200);
    await origin.down();

    await t.step("every request is still tried (502), each once", async () => {
      for (let i = 0; i < 10; i++) {
        const a = await ask(e.edge, `/page/${i}`);
        assert.equal(a.status, 502, `request ${i}`);
        assert.equal(a.code, "origin_unreachable");
        const attempts = (a.body as { attempts: unknown[] }).attempts;
        assert.equal(attempts.length, 1, "four regions, one origin: one attempt");
      }
    });
    await t.step(
      "health: unhealthy, with the reason, below the minimum request count",
      async () => {
        const h = await health(e.edge);
        assert.equal(h.http, 503);
        assert.equal(h.status, "unhealthy");
        assert.deepEqual(h.conditions, { origins: "unhealthy" });
        assert.ok(h.reasons.includes("the origin is out of rotation (recent connection failures)"));
        assert.equal(h.origins?.[ALL_REGIONS].state, "open");
      },
    );
    await t.step("the first request after the socket reopens is served", async () => {
      origin.up();
      const first = await ask(e.edge, "/page/back");
      assert.equal(first.status, 200, "recovery takes one request, no cool-down");
      const h = await health(e.edge);
      assert.equal(h.http, 200);
      assert.equal(h.conditions, undefined);
      assert.equal(h.origins, undefined, "the breaker closed");
      assert.ok((h.edge_error_rate ?? 0) > 0, "the 502s were the edge's");
    });
  });
}

Deno.test("a second origin serves while the first is out; the first returns after its cool-down", async () => {
  await using near = new ScriptedOrigin();
  await using far = new ScriptedOrigin();
  await using e = await makeEdge({ "us-east": near.url, "us-west": far.url });
  await near.down();
  for (let i = 0; i < 6; i++) assert.equal((await ask(e.edge, `/p/${i}`)).region, "us-west");
  const h = await health(e.edge);
  assert.equal(h.http, 200);
  assert.equal(h.status, "degraded");
  assert.deepEqual(h.conditions, { origins: "degraded" });
  // makeConfig points the two other regions at origins nobody tried (so never out).
  assert.deepEqual(h.reasons, ["1 of 4 origins out of rotation (recent connection failures)"]);
  near.up();
  assert.equal((await ask(e.edge, "/p/x")).region, "us-west", "near is out for its cool-down");
  e.clock.advance(10_000);
  assert.equal((await ask(e.edge, "/p/y")).region, "us-east", "one trial, and near is back");
  assert.equal((await health(e.edge)).status, "ok");
});

Deno.test("an origin that resets mid-body: the client sees the cut, nothing else changes", async () => {
  await using origin = new ScriptedOrigin();
  origin.set("/reset", { kind: "reset" });
  await using e = await makeEdge(origin.url);
  for (let i = 0; i < 5; i++) {
    const res = await e.edge.fetch(new Request("http://edge.test/reset"));
    assert.equal(res.status, 200);
    await assert.rejects(() => res.text());
    assert.equal((await ask(e.edge, `/page/${i}`)).status, 200);
  }
  const h = await health(e.edge);
  assert.equal(h.status, "ok");
  assert.equal(h.origins, undefined);
});

Deno.test("an origin that hangs on one path: 504 there, every other path served", async () => {
  await using origin = new ScriptedOrigin();
  origin.set("/slow", { kind: "hang" });
  await using e = await makeEdge(origin.url, { proxy: { timeoutMs: 100 } });
  for (let i = 0; i < 4; i++) {
    const slow = await ask(e.edge, "/slow");
    assert.equal(slow.status, 504);
    assert.equal(slow.code, "origin_timeout");
    // Three timeouts in a row take the origin out; the next request (panic) is sent anyway
    // and its answer brings the origin back.
    assert.equal((await ask(e.edge, `/page/${i}`)).status, 200);
  }
  assert.equal(origin.hits("/slow"), 4, "one attempt per request");
  assert.equal((await health(e.edge)).conditions, undefined);
});

Deno.test("probe mode: while a probe hangs, other requests get a fast 503 until it ends", async () => {
  await using origin = new ScriptedOrigin();
  origin.set("/slow", { kind: "hang" });
  await using e = await makeEdge(origin.url, {
    proxy: { timeoutMs: 150, breaker: { whenAllOut: "probe" } },
  });
  for (let i = 0; i < 3; i++) assert.equal((await ask(e.edge, "/slow")).status, 504);
  // The origin is out; this /slow is the probe, and hangs until the timeout.
  const probe = ask(e.edge, "/slow");
  while (origin.hits("/slow") < 4) await new Promise((r) => setTimeout(r, 5));
  const refused = await ask(e.edge, "/page");
  assert.equal(refused.status, 503);
  assert.equal(refused.code, "origins_unavailable");
  assert.equal((await probe).status, 504);
  const next = await ask(e.edge, "/page");
  assert.equal(next.status, 200, "the next request after the probe ended goes through");
});

Deno.test("regions on one server with different base paths are one origin to retries", async () => {
  await using origin = new ScriptedOrigin();
  origin.set("/x/broken", { kind: "status", status: 503 });
  origin.set("/y/broken", { kind: "status", status: 503 });
  await using e = await makeEdge({ "us-east": `${origin.url}/x`, "us-west": `${origin.url}/y` });
  const a = await ask(e.edge, "/broken");
  assert.equal(a.status, 503);
  assert.equal(origin.hits("/x/broken") + origin.hits("/y/broken"), 1);
});

/**
 * `ctx.cache` (the edge's shared cache under the function's own keys, with HTTP semantics) and
 * `ctx.origin.fetch` (the proxy's forwarding: nearest healthy origin, failover, headers).
 */

import assert from "node:assert/strict";
import type { FunctionContext } from "outpost/functions";
import { testFunctions } from "outpost/functions/testing";
import { createApp } from "../../../lib/core/app.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import { deadOrigin, makeConfig, startOrigin } from "../../helpers.ts";

/** A function that answers from ctx.cache, else builds a response with `cc` and stores it. */
function cachingFunction(cc: string, extra: Record<string, string> = {}) {
  let built = 0;
  return {
    built: () => built,
    module: {
      async GET(req: Request, ctx: FunctionContext): Promise<Response> {
        const key = new URL(req.url).searchParams.get("key") ?? "/report";
        const hit = await ctx.cache.match(key);
        if (hit) return hit;
        built++;
        const res = Response.json({ built }, { headers: { "cache-control": cc, ...extra } });
        const stored = await ctx.cache.put(key, res.clone());
        res.headers.set("x-stored", String(stored));
        return res;
      },
    },
  };
}

Deno.test("ctx.cache stores a cacheable response and serves it until it is stale", async (t) => {
  const report = cachingFunction("public, max-age=60", { "cache-tag": "reports" });
  await using app = await testFunctions({ report: report.module });
  await t.step("miss: built and stored", async () => {
    const res = await app.request("/report");
    assert.equal(res.headers.get("x-stored"), "true");
    assert.deepEqual(await res.json(), { built: 1 });
  });
  await t.step("hit within max-age, with Age", async () => {
    app.clock.advance(30_000);
    const res = await app.request("/report");
    assert.deepEqual(await res.json(), { built: 1 });
    assert.equal(res.headers.get("age"), "30");
    assert.equal(res.headers.get("x-cache"), "HIT");
  });
  await t.step("stale after max-age: built again", async () => {
    app.clock.advance(30_001);
    assert.deepEqual(await (await app.request("/report")).json(), { built: 2 });
  });
  await t.step("kept in KV too: another node (empty memory) finds it", async () => {
    app.edge.cache!.memory.clear();
    assert.deepEqual(await (await app.request("/report")).json(), { built: 2 });
  });
  await t.step("a purge by its Cache-Tag drops it on every node", async () => {
    await app.edge.cache!.purge([], ["reports"], false);
    assert.deepEqual(await (await app.request("/report")).json(), { built: 3 });
  });
  await t.step("never served to a client asking for that URL", async () => {
    const res = await app.request("/report?key=/hello");
    assert.equal(res.headers.get("x-stored"), "true");
    await res.body?.cancel();
    const direct = await app.request("/hello");
    assert.equal(direct.status, 404);
    assert.notEqual(direct.headers.get("x-cache"), "HIT");
    await direct.body?.cancel();
  });
});

Deno.test("ctx.cache.put() follows a shared cache's rules", async (t) => {
  const cases: Array<[string, Record<string, string>]> = [
    ["no-store", { "cache-control": "no-store" }],
    ["private", { "cache-control": "private, max-age=60" }],
    ["Vary: *", { "cache-control": "public, max-age=60", vary: "*" }],
    ["Set-Cookie without public", { "cache-control": "max-age=60", "set-cookie": "a=1" }],
    ["no lifetime and no validator", {}],
  ];
  for (const [what, headers] of cases) {
    await t.step(`${what}: not stored`, async () => {
      const fn = cachingFunction(headers["cache-control"] ?? "", headers);
      await using app = await testFunctions({ f: fn.module });
      const res = await app.request("/f");
      assert.equal(res.headers.get("x-stored"), "false");
      await res.body?.cancel();
      await (await app.request("/f")).body?.cancel();
      assert.equal(fn.built(), 2);
    });
  }
  await t.step("a non-GET request is refused", async () => {
    await using app = await testFunctions({
      f: {
        async GET(_req: Request, ctx: FunctionContext) {
          try {
            await ctx.cache.put(new Request("http://x/a", { method: "POST" }), new Response("x"));
            return new Response("stored");
          } catch (error) {
            return new Response((error as Error).message);
          }
        },
      },
    });
    assert.equal(await (await app.request("/f")).text(), "Only GET requests are cached: POST");
  });
});

Deno.test("ctx.cache keys are the function's own; delete drops them", async () => {
  const a = cachingFunction("public, max-age=600");
  await using app = await testFunctions({
    a: a.module,
    b: {
      async GET(_req: Request, ctx: FunctionContext) {
        return new Response((await ctx.cache.match("/report")) ? "found" : "none");
      },
    },
    "a-drop": {
      config: { kv: "a" },
      async POST(_req: Request, ctx: FunctionContext) {
        await ctx.cache.delete("/report");
        return new Response(null, { status: 204 });
      },
    },
  });
  await (await app.request("/a")).body?.cancel();
  assert.equal(await (await app.request("/b")).text(), "none");
  await (await app.request("/a")).body?.cancel();
  assert.equal(a.built(), 1);
  assert.equal((await app.request("/a-drop", { method: "POST" })).status, 204);
  await (await app.request("/a")).body?.cancel();
  assert.equal(a.built(), 2);
});

Deno.test("ctx.cache with the cache turned off stores nothing", async () => {
  const fn = cachingFunction("public, max-age=60");
  await using app = await testFunctions({ f: fn.module }, {
    config: { cache: { enabled: false } },
  });
  const res = await app.request("/f");
  assert.equal(res.headers.get("x-stored"), "false");
  await res.body?.cancel();
});

Deno.test("ctx.origin.fetch() forwards like the proxy: headers, user, variant", async () => {
  await using app = await testFunctions({
    "api/relay": {
      async POST(req: Request, ctx: FunctionContext) {
        return await ctx.origin.fetch("/api/echo?from=function", {
          method: "POST",
          headers: { "content-type": "text/plain", "x-custom": "1" },
          body: await req.text(),
        });
      },
    },
  });
  const res = await app.request("/api/relay", {
    method: "POST",
    body: "payload",
    user: { sub: "dave", roles: ["editor"] },
    headers: { "x-request-id": "relay-1", cookie: "variant=A" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-upstream-region"), "us-east");
  const echo = await res.json();
  assert.equal(echo.path, "/api/echo");
  assert.deepEqual(echo.query, { from: "function" });
  assert.equal(echo.body, "payload");
  assert.equal(echo.headers["x-custom"], "1");
  assert.equal(echo.headers["x-user-id"], "dave");
  assert.equal(echo.headers["x-variant"], "A");
  assert.equal(echo.headers["x-request-id"], "relay-1");
  assert.equal(echo.headers["x-forwarded-host"], "edge.test");
  assert.match(echo.headers.via, /outpost-us-east/);
  assert.equal(echo.headers.authorization, undefined, "the client's token is not passed on");
});

Deno.test("ctx.origin.fetch() fails over to the next-nearest healthy origin", async () => {
  await using live = startOrigin("eu");
  const config = makeConfig({ "us-east": deadOrigin(), "eu-west": live.url });
  const kv = await Deno.openKv(":memory:");
  const edge = createApp({
    config,
    kv,
    clock: new ManualClock(),
    functions: {
      dir: "functions",
      functions: {
        user: {
          GET: (_req: Request, ctx: FunctionContext) => ctx.origin.fetch("/users/7"),
        },
      },
    },
  });
  try {
    // A client in New York: us-east first (refused), then the next-nearest, eu-west.
    const res = await edge.fetch(
      new Request("http://edge.test/user", {
        headers: { "x-user-lat": "40.7", "x-user-lon": "-74.0" },
      }),
      { remoteAddr: { hostname: "127.0.0.1", port: 1 } },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-upstream-region"), "eu-west");
    assert.equal((await res.json()).id, "7");
    assert.equal(live.count("/users/7"), 1);
  } finally {
    await edge.close();
    kv.close();
  }
});

Deno.test("ctx.origin.fetch() takes only paths: no other host can be reached", async () => {
  await using app = await testFunctions({
    f: {
      async GET(req: Request, ctx: FunctionContext) {
        const target = new URL(req.url).searchParams.get("to")!;
        try {
          await ctx.origin.fetch(target);
          return new Response("fetched");
        } catch (error) {
          return new Response((error as Error).message, { status: 400 });
        }
      },
    },
  });
  for (const to of ["http://evil.example/", "//evil.example/x", "/\\evil.example", "relative"]) {
    const res = await app.request(`/f?to=${encodeURIComponent(to)}`);
    assert.equal(res.status, 400, to);
    assert.match(await res.text(), /takes a path starting with \//);
  }
});

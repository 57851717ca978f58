/**
 * Functions inside the pipeline: failures become problems and leave the node serving, the time
 * limit abandons a call and refuses its later writes, methods, parameters, body limits, and what
 * the context tells a function (user, variant, geo) — all through HTTP, in-process.
 */

import assert from "node:assert/strict";
import { type FunctionContext, HttpError } from "outpost/functions";
import { testFunctions } from "outpost/functions/testing";
import { memoryLogger } from "../../../lib/core/log.ts";

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

Deno.test("a function that throws gets a 500 problem with the request id; the node keeps serving", async (t) => {
  const log = memoryLogger();
  await using app = await testFunctions({
    boom: {
      GET(): Response {
        throw new Error("database password is hunter2");
      },
    },
    ok: { GET: () => new Response("fine") },
  }, { log });

  const res = await app.request("/boom", { headers: { "x-request-id": "req-boom-1" } });
  await t.step("500 problem+json naming the function and the request id", async () => {
    assert.equal(res.status, 500);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const text = await res.text();
    const body = JSON.parse(text);
    assert.equal(body.code, "function_error");
    assert.equal(body.request_id, "req-boom-1");
    assert.equal(body.detail, "The function boom failed");
    assert.ok(!text.includes("hunter2"), "the error message stays out of the answer");
    assert.ok(!text.includes("at GET"), "the stack stays out of the answer");
  });
  await t.step("the stack is in the log, with the function and the request id", () => {
    const line = log.lines.find((l) => l.msg === "function threw")!;
    assert.equal(line.function, "boom");
    assert.equal(line.request_id, "req-boom-1");
    const error = line.error as { message: string; stack: string };
    assert.equal(error.message, "database password is hunter2");
    assert.match(error.stack, /runtime_test\.ts/);
  });
  await t.step("other routes, other functions and health still answer", async () => {
    assert.equal(await (await app.request("/ok")).text(), "fine");
    const health = await app.request("/_edge/health");
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");
    const again = await app.request("/boom");
    assert.equal(again.status, 500);
    await again.body?.cancel();
  });
  await t.step("counted per function", () => {
    const text = app.metrics();
    assert.match(
      text,
      /outpost_function_errors_total\{function="boom",kind="threw",region="us-east"\} 2/,
    );
    assert.match(
      text,
      /outpost_function_calls_total\{function="boom",region="us-east",status="5xx"\} 2/,
    );
    assert.match(
      text,
      /outpost_function_calls_total\{function="ok",region="us-east",status="2xx"\} 1/,
    );
    assert.match(
      text,
      /outpost_function_duration_seconds_count\{function="boom",region="us-east"\} 2/,
    );
  });
});

Deno.test("a slow function gets a 504; its promise is abandoned and its later writes refused", async (t) => {
  const release = deferred();
  const after = deferred<{ put: unknown; aborted: boolean; late: unknown }>();
  await using app = await testFunctions({
    slow: {
      config: { timeoutMs: 20 },
      async GET(_req: Request, ctx: FunctionContext): Promise<Response> {
        await ctx.kv.put("early", 1);
        await release.promise;
        let put: unknown = null;
        try {
          await ctx.kv.put("late", 2);
        } catch (error) {
          put = error;
        }
        let late: unknown = null;
        try {
          ctx.track({ type: "late" });
        } catch (error) {
          late = error;
        }
        after.resolve({ put, aborted: ctx.signal.aborted, late });
        return new Response("too late");
      },
    },
    fast: { GET: () => new Response("fast") },
  });

  const res = await app.request("/slow");
  await t.step("504 problem function_timeout", async () => {
    assert.equal(res.status, 504);
    const body = await res.json();
    assert.equal(body.code, "function_timeout");
    assert.equal(body.detail, "The function slow did not answer within 20 ms");
    assert.equal(body.request_id, res.headers.get("x-request-id"));
  });
  await t.step("the node answers other requests while the call hangs", async () => {
    assert.equal(await (await app.request("/fast")).text(), "fast");
    assert.equal((await app.request("/_edge/health")).status, 200);
  });
  await t.step("what the call does after its deadline is refused", async () => {
    release.resolve();
    const seen = await after.promise;
    assert.ok(seen.put instanceof DOMException);
    assert.equal((seen.put as DOMException).name, "TimeoutError");
    assert.ok(seen.late instanceof DOMException);
    assert.equal(seen.aborted, true);
    assert.equal(await app.kv("slow").get("early"), 1);
    assert.equal(await app.kv("slow").get("late"), null);
  });
  await t.step("counted as a timeout", () => {
    assert.match(
      app.metrics(),
      /outpost_function_errors_total\{function="slow",kind="timeout",region="us-east"\} 1/,
    );
  });
});

Deno.test("functions.timeoutMs is the limit of files without their own", async () => {
  const never = new Promise<Response>(() => {});
  await using app = await testFunctions({
    dflt: { GET: () => never },
  }, { config: { functions: { timeoutMs: 15 } } });
  const res = await app.request("/dflt");
  assert.equal(res.status, 504);
  assert.match((await res.json()).detail, /within 15 ms/);
});

Deno.test("what a function returns or throws decides the answer", async (t) => {
  await using app = await testFunctions({
    problem: {
      GET(): Response {
        throw new HttpError(409, "Already there: x", { code: "already_there" });
      },
    },
    nothing: { GET: () => "not a response" as unknown as Response },
    rejects: { GET: () => Promise.reject(new TypeError("async failure")) },
  });
  await t.step("an HttpError is its own problem (status, code, detail)", async () => {
    const res = await app.request("/problem");
    assert.equal(res.status, 409);
    const body = await res.json();
    assert.equal(body.code, "already_there");
    assert.equal(body.detail, "Already there: x");
  });
  await t.step("a value that is no Response is a 500 problem", async () => {
    const res = await app.request("/nothing");
    assert.equal(res.status, 500);
    assert.equal((await res.json()).code, "function_error");
  });
  await t.step("a rejected promise is like a throw", async () => {
    const res = await app.request("/rejects");
    assert.equal(res.status, 500);
    assert.equal((await res.json()).code, "function_error");
  });
  await t.step("counted by kind", () => {
    const text = app.metrics();
    assert.match(text, /function="nothing",kind="invalid_response"/);
    assert.match(text, /function="problem",kind="problem"/);
    assert.match(text, /function="rejects",kind="threw"/);
  });
});

Deno.test("methods: named exports, HEAD from GET, default for the rest, 405 with Allow", async (t) => {
  await using app = await testFunctions({
    "only-get": { GET: () => new Response("got it", { headers: { "x-h": "1" } }) },
    any: {
      default: (req: Request) => new Response(`any ${req.method}`),
      POST: () => new Response("post", { status: 201 }),
    },
  });
  await t.step("GET and HEAD", async () => {
    assert.equal(await (await app.request("/only-get")).text(), "got it");
    const head = await app.request("/only-get", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("x-h"), "1");
    assert.equal(await head.text(), "");
  });
  await t.step("405 with Allow for a method without a handler", async () => {
    const res = await app.request("/only-get", { method: "PUT", body: "x" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD");
    assert.equal((await res.json()).code, "method_not_allowed");
  });
  await t.step("default answers every method without its own export", async () => {
    assert.equal(await (await app.request("/any", { method: "DELETE" })).text(), "any DELETE");
    const post = await app.request("/any", { method: "POST" });
    assert.equal(post.status, 201);
    await post.body?.cancel();
  });
});

Deno.test("routes: [param] segments, a final [...rest], index, static before dynamic", async () => {
  const seen = (name: string) => (_req: Request, ctx: FunctionContext) =>
    Response.json({ name, params: ctx.params });
  await using app = await testFunctions({
    "users/[id]": { GET: seen("users/[id]") },
    "users/me": { GET: seen("users/me") },
    "users/index": { GET: seen("users/index") },
    "files/[...path]": { GET: seen("files/[...path]") },
    "shop/[shop]/items/[item]": { GET: seen("shop/[shop]/items/[item]") },
  }, { config: { authz: { enabled: false } } });
  const get = async (path: string) => await (await app.request(path)).json();
  assert.deepEqual(await get("/users/7"), { name: "users/[id]", params: { id: "7" } });
  assert.deepEqual(await get("/users/me"), { name: "users/me", params: {} });
  assert.deepEqual(await get("/users"), { name: "users/index", params: {} });
  assert.deepEqual(await get("/files/a/b/c.txt"), {
    name: "files/[...path]",
    params: { path: "a/b/c.txt" },
  });
  assert.deepEqual(await get("/shop/s1/items/i2"), {
    name: "shop/[shop]/items/[item]",
    params: { shop: "s1", item: "i2" },
  });
});

Deno.test("a function whose first segment is a parameter never gets the edge's own paths", async () => {
  await using app = await testFunctions({
    "[...page]": { GET: () => new Response("function") },
  }, { config: { authz: { enabled: false } } });
  assert.equal(await (await app.request("/about/us")).text(), "function");
  const paths = ["/events", "/events/nope", "/items/x", "/crdt/nope", "/_central/nope"];
  for (const path of paths) {
    const res = await app.request(path);
    assert.notEqual(await res.text(), "function", path);
  }
});

Deno.test("request bodies over functions.maxBodyBytes are refused with 413", async (t) => {
  await using app = await testFunctions({
    echo: { POST: async (req: Request) => new Response(await req.text()) },
  }, { config: { functions: { maxBodyBytes: 16 } } });
  await t.step("within the limit", async () => {
    assert.equal(
      await (await app.request("/echo", { method: "POST", body: "short" })).text(),
      "short",
    );
  });
  await t.step("declared too large: refused before the function runs", async () => {
    const res = await app.request("/echo", { method: "POST", body: "x".repeat(100) });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).code, "body_too_large");
  });
  await t.step("streamed past the limit: the function's read fails with the 413", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode("0123456789"));
        controller.close();
      },
    });
    const res = await app.request("/echo", { method: "POST", body });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).code, "body_too_large");
  });
});

Deno.test("ctx: user from authorization, A/B variant, geo, and nothing of the edge's config", async (t) => {
  let last: FunctionContext | null = null;
  const show = (_req: Request, ctx: FunctionContext) => {
    last = ctx;
    return Response.json({
      user: ctx.user,
      variant: ctx.variant,
      variants: ctx.variants,
      geo: ctx.geo,
    });
  };
  await using app = await testFunctions({ "api/me": { GET: show }, open: { GET: show } });

  await t.step("a protected route sees the verified user and its roles", async () => {
    const body = await (await app.request("/api/me", {
      user: { sub: "carol", roles: ["viewer", "beta"] },
    })).json();
    assert.deepEqual(body.user, { id: "carol", roles: ["viewer", "beta"] });
  });
  await t.step("an unprotected route has no user", async () => {
    assert.equal((await (await app.request("/open")).json()).user, null);
  });
  await t.step("the experiment's variant: sticky by cookie, else assigned and set", async () => {
    const sticky = await app.request("/api/me", {
      user: { sub: "carol", roles: ["viewer"] },
      headers: { cookie: "variant=B" },
    });
    assert.equal((await sticky.json()).variant, "B");
    const fresh = await app.request("/api/me", { user: { sub: "carol", roles: ["viewer"] } });
    const body = await fresh.json();
    assert.ok(body.variant === "A" || body.variant === "B");
    assert.deepEqual(body.variants, { default: body.variant });
    assert.match(fresh.headers.get("set-cookie") ?? "", new RegExp(`^variant=${body.variant};`));
    assert.equal((await (await app.request("/open")).json()).variant, null);
  });
  await t.step("geo from a trusted proxy's headers", async () => {
    const body = await (await app.request("/open", {
      headers: { "x-user-lat": "35.68", "x-user-lon": "139.69" },
    })).json();
    assert.deepEqual(body.geo, {
      country: null,
      location: { lat: 35.68, lon: 139.69 },
      region: "ap-southeast",
      servedBy: "us-east",
      source: "user-headers",
      distanceKm: body.geo.distanceKm,
    });
    assert.ok(body.geo.distanceKm > 5000 && body.geo.distanceKm < 6000);
  });
  await t.step("the context holds the documented members and no config or secret", () => {
    const ctx = last as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(ctx).sort(), [
      "cache",
      "geo",
      "kv",
      "log",
      "name",
      "origin",
      "params",
      "requestId",
      "signal",
      "track",
      "user",
      "variant",
      "variants",
    ]);
    const everything = JSON.stringify(ctx, (_k, v) => (typeof v === "function" ? String(v) : v));
    assert.ok(!everything.includes("outpost-test-"), "no JWT secret");
    assert.ok(!everything.includes("internal://"), "no origin address");
  });
});

Deno.test("ctx.track validates events and queues them for analytics", async () => {
  await using app = await testFunctions({
    t: {
      GET(req: Request, ctx: FunctionContext): Response {
        const type = new URL(req.url).searchParams.get("type")!;
        try {
          return Response.json({ queued: ctx.track({ type, properties: { n: 1 } }) });
        } catch (error) {
          return Response.json({ error: (error as Error).message }, { status: 400 });
        }
      },
    },
  });
  const ok = await (await app.request("/t?type=signup")).json();
  assert.deepEqual(ok, { queued: true });
  const bad = await app.request("/t?type=no%20spaces");
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /Invalid event type/);
  assert.equal(app.edge.analytics.edge!.tracker.pending, 1);
});

Deno.test("functions cannot read each other's KV, through HTTP", async () => {
  await using app = await testFunctions({
    writer: {
      async POST(_req: Request, ctx: FunctionContext) {
        await ctx.kv.put("secret", "writer's");
        return new Response(null, { status: 204 });
      },
    },
    reader: {
      async GET(_req: Request, ctx: FunctionContext) {
        return Response.json({
          value: await ctx.kv.get("secret"),
          listed: (await ctx.kv.list()).entries.length,
        });
      },
    },
    partner: {
      config: { kv: "writer" },
      async GET(_req: Request, ctx: FunctionContext) {
        return Response.json({ value: await ctx.kv.get("secret") });
      },
    },
  });
  assert.equal((await app.request("/writer", { method: "POST" })).status, 204);
  assert.deepEqual(await (await app.request("/reader")).json(), { value: null, listed: 0 });
  // A file that names the writer's namespace in its config shares it, by choice.
  assert.deepEqual(await (await app.request("/partner")).json(), { value: "writer's" });
  const namespaces = app.edge.functions!.functions.map((f) => f.namespace);
  assert.deepEqual(namespaces.sort(), ["reader", "writer", "writer"]);
});

Deno.test("answers of protected or A/B-varied functions are kept out of Deno Deploy's CDN", async () => {
  const publicAnswer = () =>
    new Response("same for all?", { headers: { "cache-control": "public, max-age=600" } });
  await using app = await testFunctions({
    "api/shared": { GET: publicAnswer },
    open: { GET: publicAnswer },
  }, { config: { experiments: [] } });
  const protectedRes = await app.request("/api/shared", { user: { sub: "e", roles: ["viewer"] } });
  assert.equal(protectedRes.headers.get("deno-cdn-cache-control"), "private, no-store");
  assert.equal(protectedRes.headers.get("cache-control"), "public, max-age=600");
  await protectedRes.body?.cancel();
  const open = await app.request("/open");
  assert.equal(open.headers.get("deno-cdn-cache-control"), null);
  await open.body?.cancel();

  await using ab = await testFunctions({ open: { GET: publicAnswer } }, {
    config: {
      authz: { enabled: false },
      experiments: [{
        name: "e",
        paths: ["/open"],
        variants: [{ name: "A", weight: 1 }, { name: "B", weight: 1 }],
      }],
    },
  });
  const varied = await ab.request("/open");
  assert.equal(varied.headers.get("deno-cdn-cache-control"), "private, no-store");
  await varied.body?.cancel();
});

Deno.test("failing functions are their own fault: the node's health does not count them", async () => {
  await using app = await testFunctions({
    boom: {
      GET(): Response {
        throw new Error("always");
      },
    },
  });
  for (let i = 0; i < 30; i++) await (await app.request("/boom")).body?.cancel();
  const health = await (await app.request("/_edge/health?verbose=1")).json();
  assert.equal(health.status, "ok");
  assert.equal(health.insufficient_data, false);
  assert.equal(health.requests, 30);
  assert.equal(health.error_rate, 0);
  assert.match(
    app.metrics(),
    /outpost_http_server_errors_total\{region="us-east",route="cache",source="function"\} 30/,
  );
});

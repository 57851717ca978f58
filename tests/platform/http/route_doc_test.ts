import assert from "node:assert/strict";
import { Hono } from "hono";
import { z } from "zod";
import {
  described,
  describedRoutes,
  json,
  named,
  problems,
  type RouteDoc,
  routeDocOf,
} from "../../../lib/platform/http/route_doc.ts";

function doc(operationId: string): RouteDoc {
  return {
    operationId,
    tags: ["T"],
    summary: operationId,
    responses: { 200: { description: "ok" } },
  };
}

Deno.test("describedRoutes() registers routes as Hono does, each handler carrying its doc", async (t) => {
  const app = new Hono();
  const api = describedRoutes(app);
  let built = 0;
  api.get("/sync/:id", doc("getSync"), (c) => new Response(c.req.param("id")));
  api.post(
    "/lazy",
    () => (built++, doc("postLazy")),
    () => new Response("posted", { status: 201 }),
  );
  api.use("/guarded/*", { security: [{ token: [] }] }, async (_c, next) => await next());
  api.put("/guarded/x", doc("putGuarded"), () => new Response(null, { status: 204 }));

  await t.step("the route table has the routes, in order, with their methods", () => {
    assert.deepEqual(app.routes.map((r) => `${r.method} ${r.path}`), [
      "GET /sync/:id",
      "POST /lazy",
      "ALL /guarded/*",
      "PUT /guarded/x",
    ]);
  });
  await t.step(
    "a synchronous handler still answers without a promise (no extra middleware)",
    () => {
      const res = app.fetch(new Request("http://h/sync/abc"));
      assert.ok(res instanceof Response);
    },
  );
  await t.step("answers are the handlers' own", async () => {
    assert.equal(await (await app.request("/sync/abc")).text(), "abc");
    assert.equal((await app.request("/lazy", { method: "POST" })).status, 201);
    assert.equal((await app.request("/guarded/x", { method: "PUT" })).status, 204);
  });
  await t.step("a doc given as a function is made when read, not before", async () => {
    assert.equal(built, 0, "not at registration, not on requests");
    const docs = await Promise.all(app.routes.map((r) => routeDocOf(r.handler)));
    assert.equal(built, 1);
    assert.deepEqual(docs.map((d) => d && "operationId" in d ? d.operationId : d), [
      "getSync",
      "postLazy",
      { security: [{ token: [] }] },
      "putGuarded",
    ]);
  });
  await t.step("a handler without a doc has none", async () => {
    assert.equal(await routeDocOf(() => new Response()), null);
    assert.equal(await routeDocOf("not a function"), null);
  });
});

Deno.test("described() attaches a doc once", async () => {
  const handler = described(doc("one"), function handler() {
    return new Response();
  });
  assert.equal((await routeDocOf(handler) as RouteDoc).operationId, "one");
  assert.throws(() => described(doc("two"), handler), /Handler handler is described twice/);
});

Deno.test("json(), named() and problems() build the pieces of a doc", () => {
  const Schema = z.object({ a: z.number() });
  const answer = json("A body", named("A", Schema), {
    ETag: { description: "Version", schema: { type: "string" } },
  });
  assert.equal(answer.description, "A body");
  const slot = answer.content!["application/json"] as ReturnType<typeof named>;
  assert.equal(slot.name, "A");
  assert.equal(slot.schema, Schema, "the very schema, not a copy");
  const out = problems({ 400: "`validation_failed`", 429: "`rate_limited`" });
  assert.deepEqual(Object.keys(out), ["400", "429"]);
  assert.deepEqual(out[400].content, {
    "application/problem+json": { $ref: "#/components/schemas/Problem" },
  });
  assert.ok(out[429].headers?.["Retry-After"], "429 says when to retry");
});

import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AppEnv } from "../../../lib/core/request.ts";
import { describedRoutes } from "../../../lib/platform/http/route_doc.ts";
import { routeTable } from "../../../lib/features/docs/openapi/document.ts";
import { validateOpenApi } from "./_openapi.ts";
import { CONFIGS, docEdge } from "./_fixture.ts";
import type { DocEdge } from "./_fixture.ts";

type Obj = Record<string, unknown>;
const METHODS = ["get", "put", "post", "delete", "patch"];

/** `METHOD /path/:param` for every operation of the document. */
function documented(doc: Obj): Set<string> {
  const out = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths as Obj)) {
    for (const method of Object.keys(item as Obj)) {
      if (!METHODS.includes(method)) continue;
      out.add(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`);
    }
  }
  return out;
}

/**
 * Entries of the live route table that are not operations, each with its reason: middleware of
 * the pipeline and fallbacks, all of them `ALL` routes. Anything else the routers hold must be in
 * the document, and the document holds nothing else.
 */
const NOT_OPERATIONS = new Map<string, string>([
  [
    "ALL /*",
    "stages (authorization, tracking, WebSocket credentials) and the catch-all (A/B, cache, origin)",
  ],
  ["ALL /events", "405 for methods other than POST (documented on POST /events)"],
  ["ALL /events/*", "404 fallback (or analytics_disabled)"],
  ["ALL /_central/*", "the collector's 404 fallback (its token check is described)"],
]);

/** `METHOD /path/:param` for each route of the live app that is not an operation, and why. */
function notOperations(s: DocEdge): Map<string, string> {
  const out = new Map(NOT_OPERATIONS);
  for (const fn of s.edge.functions?.functions ?? []) {
    out.set(`ALL ${fn.route}`, `users' edge function ${fn.name} (docs/functions.md)`);
  }
  return out;
}

/**
 * Where the live route table and the document disagree: a route that is neither an operation
 * of the document nor explained, an operation the routes do not serve.
 */
async function drift(s: DocEdge, document: Obj): Promise<string[]> {
  const { edge, main } = s.edge.routers;
  const doc = documented(document);
  const skip = notOperations(s);
  const out: string[] = [];
  const operations = new Set<string>();
  for (const { method, path, doc: described } of await routeTable([edge, main])) {
    const route = `${method} ${path}`;
    if (described !== null && "operationId" in described) {
      operations.add(route);
      if (!doc.has(route)) out.push(`${route} is described but not in the document`);
    } else if (described === null) {
      if (!skip.has(route)) out.push(`${route} is served but neither described nor explained`);
    } else if (method !== "ALL") {
      out.push(`${route}: a guard's description on one route`);
    }
  }
  for (const r of doc) if (!operations.has(r)) out.push(`${r} is documented but not served`);
  if (operations.size < 10) out.push(`only ${operations.size} operations`);
  return out;
}

Deno.test("GET /_edge/openapi.json is a valid OpenAPI 3.1 document", async (t) => {
  for (const [name, overrides] of Object.entries(CONFIGS)) {
    await t.step(name, async () => {
      await using s = await docEdge(overrides);
      const doc = await s.document();
      assert.deepEqual(validateOpenApi(doc), []);
      assert.equal(doc.openapi, "3.1.0");
      assert.deepEqual(doc.servers, [{ url: "/", description: "This edge node" }]);
      // Every operation is tagged, named and says what its errors are.
      for (const [path, item] of Object.entries(doc.paths as Obj)) {
        for (const [method, op] of Object.entries(item as Record<string, Obj>)) {
          const where = `${method} ${path}`;
          assert.ok(typeof op.operationId === "string", `${where}: operationId`);
          assert.ok((op.tags as string[]).length > 0, `${where}: tags`);
          assert.ok(typeof op.summary === "string", `${where}: summary`);
        }
      }
    });
  }
});

Deno.test("validateOpenApi() finds what is broken", async (t) => {
  await using s = await docEdge(CONFIGS["role both, authz, cache"]);
  const good = await s.document();
  const broken = (change: (doc: Obj) => void) => {
    const doc = structuredClone(good);
    change(doc);
    return validateOpenApi(doc);
  };
  const paths = (doc: Obj) => doc.paths as Record<string, Record<string, Obj>>;
  await t.step("a reference that does not resolve", () => {
    const errors = broken((doc) => {
      delete (doc.components as Record<string, Obj>).schemas.Counter;
    });
    assert.ok(errors.some((e) => e.includes("does not resolve: #/components/schemas/Counter")));
  });
  await t.step("a path parameter not declared", () => {
    const errors = broken((doc) => {
      paths(doc)["/crdt/sets/{name}"].get.parameters = [];
    });
    assert.ok(errors.some((e) => e.includes("{name} not declared")), errors.join("\n"));
  });
  await t.step("an operationId used twice", () => {
    const errors = broken((doc) => {
      paths(doc)["/crdt/sets/{name}"].get.operationId = "getCounter";
    });
    assert.ok(errors.some((e) => e.startsWith("operationId getCounter used by")));
  });
  await t.step("no responses, unknown scheme, undeclared tag, wrong version", () => {
    const errors = broken((doc) => {
      doc.openapi = "3.0.3";
      const op = paths(doc)["/_edge/health"].get;
      op.responses = {};
      op.security = [{ nobody: [] }];
      op.tags = ["Nowhere"];
    });
    for (const part of ["3.1.x", "no responses", "unknown security scheme", "not declared"]) {
      assert.ok(errors.some((e) => e.includes(part)), `${part}: ${errors.join("\n")}`);
    }
  });
});

Deno.test("The document describes every route the edge serves, and only those", async (t) => {
  const cases: Array<[string, () => Promise<DocEdge>]> = [
    ...Object.entries(CONFIGS).map(([name, o]) =>
      [name, () => docEdge(o)] as [string, () => Promise<DocEdge>]
    ),
    ["with users' functions", () =>
      docEdge({}, {}, {
        functions: {
          dir: "functions",
          functions: { "hello/[name]": { GET: () => new Response("hi") } },
        },
      })],
  ];
  for (const [name, make] of cases) {
    await t.step(name, async () => {
      await using s = await make();
      assert.deepEqual(await drift(s, await s.document()), []);
    });
  }
  await t.step("a route added without a description fails the walk", async () => {
    await using s = await docEdge();
    s.edge.routers.edge.get("/_edge/undescribed", () => new Response());
    assert.deepEqual(await drift(s, await s.document()), [
      "GET /_edge/undescribed is served but neither described nor explained",
    ]);
  });
  await t.step("an operation the routes do not serve fails the walk", async () => {
    await using s = await docEdge();
    const doc = await s.document();
    (doc.paths as Obj)["/_edge/gone"] = { get: { responses: {} } };
    assert.deepEqual(await drift(s, doc), ["GET /_edge/gone is documented but not served"]);
  });
  await t.step("parts a node does not run are left out", async () => {
    await using s = await docEdge(CONFIGS["role edge, no cache, no analytics"]);
    const doc = documented(await s.document());
    for (const r of ["POST /events", "POST /_central/summary", "POST /_edge/purge"]) {
      assert.ok(!doc.has(r), r);
    }
  });
  await t.step("docs.enabled false serves neither the document nor the page", async () => {
    await using s = await docEdge({ docs: { enabled: false } });
    for (const path of ["/_edge/openapi.json", "/_edge/docs"]) {
      const res = await s.call(path);
      assert.equal(res.status, 404);
      assert.equal((await res.json()).code, "not_found");
    }
  });
});

Deno.test("The document states this node's limits and security", async (t) => {
  await using s = await docEdge({
    authz: { enabled: true },
    crdt: { maxStep: 50 },
    data: { itemSchema: "flat-object" },
    analytics: { maxBatchEvents: 7, retentionHours: 2 },
    metrics: { health: { maxP99Ms: 321 } },
  });
  const doc = await s.document();
  const schemas = (doc.components as Record<string, Record<string, Obj>>).schemas;
  const paths = doc.paths as Record<string, Record<string, Obj>>;
  await t.step("limits from config", () => {
    const step = schemas.CounterStep.properties as Record<string, Obj>;
    assert.equal(step.by.maximum, 50);
    const batch = (schemas.EventsRequest.anyOf as Obj[])[1].properties as Record<string, Obj>;
    assert.equal(batch.events.maxItems, 7);
    const minutes = (paths["/events/counts"].get.parameters as Obj[])[0];
    assert.equal((minutes.schema as Obj).maximum, 120);
    assert.equal(schemas.Item.type, "object", "the flat-object item schema");
    assert.match(paths["/_edge/health"].get.description as string, /p99 under 321 ms/);
  });
  await t.step("security by route", () => {
    assert.deepEqual(paths["/items/{id}"].put.security, [{ bearerJwt: [] }]);
    assert.equal(paths["/items/{id}"].get.security, undefined, "reads are not protected");
    assert.ok("429" in (paths["/crdt/counters/{name}/increment"].post.responses as Obj));
    assert.deepEqual(paths["/_edge/stats"].get.security, [{ adminToken: [] }]);
    assert.equal(paths["/_edge/dashboard"].get.security, undefined, "the page is public");
    assert.deepEqual(paths["/_edge/purge"].post.security, [{ adminToken: [] }]);
    assert.deepEqual(paths["/_edge/sync"].post.security, [{ syncToken: [] }]);
    assert.deepEqual(paths["/_central/summary"].post.security, [{ collectorToken: [] }]);
    assert.deepEqual(paths["/_edge/health"].get.security, [{}, { adminToken: [] }], "verbose");
  });
  await t.step("errors are problem+json with the shared schema", () => {
    const bad = (paths["/items/{id}"].put.responses as Record<string, Obj>)["412"];
    assert.deepEqual(bad.content, {
      "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } },
    });
    const problem = schemas.Problem;
    assert.deepEqual(problem.required, ["type", "title", "status", "detail", "code"]);
  });
});

Deno.test("routeTable() finds descriptions through mounted sub-apps and their error handlers", async () => {
  const sub = new Hono<AppEnv>();
  sub.onError(() => new Response("sub's own", { status: 500 }));
  describedRoutes(sub).get("/:id", {
    operationId: "getThing",
    tags: ["T"],
    summary: "A thing",
    responses: { 200: { description: "ok" } },
  }, (c) => new Response(c.req.param("id")));
  const app = new Hono<AppEnv>().basePath("/_edge");
  app.route("/things", sub);
  const [route] = await routeTable([app]);
  assert.equal(`${route.method} ${route.path}`, "GET /_edge/things/:id");
  assert.equal((route.doc as { operationId: string }).operationId, "getThing");
});

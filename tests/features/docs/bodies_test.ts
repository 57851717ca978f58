import assert from "node:assert/strict";
import { validateJson } from "./_json_schema.ts";
import { ADMIN_TOKEN, docEdge, T0 } from "./_fixture.ts";
import type { DocEdge } from "./_fixture.ts";

type Obj = Record<string, unknown>;

/** Sends `body` to the live route and asks the document's schema about it; both must agree. */
async function agree(
  s: DocEdge,
  doc: Obj,
  route: { method: string; path: string; docPath: string; headers?: Record<string, string> },
  body: unknown,
  accepted: boolean,
): Promise<void> {
  const op = (doc.paths as Record<string, Record<string, Obj>>)[route.docPath][route.method];
  const content = (op.requestBody as { content: Record<string, { schema: Obj }> }).content;
  const errors = validateJson(body, content["application/json"].schema, doc);
  const label = `${route.method.toUpperCase()} ${route.path} ${JSON.stringify(body).slice(0, 80)}`;
  assert.equal(errors.length === 0, accepted, `document: ${label}: ${errors.join("; ")}`);
  const res = await s.call(route.path, {
    method: route.method.toUpperCase(),
    headers: { "content-type": "application/json", ...route.headers },
    body: JSON.stringify(body),
  });
  const answer = await res.text();
  assert.equal(res.status < 300, accepted, `route: ${label}: ${res.status} ${answer}`);
  if (!accepted) {
    assert.equal(res.status, 400, answer);
    assert.match(JSON.parse(answer).code, /^(validation_failed|invalid_events)$/);
  }
}

Deno.test("Request bodies: the document's schema and the live route agree", async (t) => {
  await using s = await docEdge({
    crdt: { maxStep: 50 },
    data: { itemSchema: "flat-object" },
    analytics: { maxBatchEvents: 3 },
  });
  const doc = await s.document();

  await t.step("POST /events", async () => {
    const route = { method: "post", path: "/events", docPath: "/events" };
    const event = { user_id: "u-1", event_type: "click", timestamp: T0 - 1000 };
    await agree(s, doc, route, { events: [{ ...event, properties: { path: "/x" } }] }, true);
    await agree(s, doc, route, { user_id: "u-2", event_type: "view" }, true);
    await agree(s, doc, route, { ...event, timestamp: new Date(T0).toISOString() }, true);
    await agree(s, doc, route, { events: [] }, false);
    await agree(s, doc, route, { events: [event, event, event, event] }, false);
    await agree(s, doc, route, { user_id: "u 1", event_type: "click" }, false);
    await agree(s, doc, route, { ...event, extra: 1 }, false);
    await agree(s, doc, route, { events: [event], more: [] }, false);
    await agree(s, doc, route, { ...event, timestamp: -5 }, false);
    await agree(s, doc, route, { ...event, properties: [1] }, false);
    await agree(s, doc, route, [event], false);
  });

  await t.step("POST /crdt/counters/:name/increment", async () => {
    const route = {
      method: "post",
      path: "/crdt/counters/visits/increment",
      docPath: "/crdt/counters/{name}/increment",
    };
    await agree(s, doc, route, { by: 50 }, true);
    await agree(s, doc, route, {}, true);
    await agree(s, doc, route, { by: 51 }, false);
    await agree(s, doc, route, { by: 0 }, false);
    await agree(s, doc, route, { by: 1.5 }, false);
    await agree(s, doc, route, { by: "2" }, false);
    await agree(s, doc, route, { by: 1, extra: true }, false);
  });

  await t.step("PUT /items/:id (flat-object items)", async () => {
    const route = { method: "put", path: "/items/i-1", docPath: "/items/{id}" };
    await agree(s, doc, route, { name: "lamp", price: 12.5, stock: true, note: null }, true);
    await agree(s, doc, route, {}, true);
    await agree(s, doc, route, { nested: { a: 1 } }, false);
    await agree(s, doc, route, { list: [1, 2] }, false);
    await agree(s, doc, route, [1, 2], false);
    await agree(s, doc, route, { long: "x".repeat(4097) }, false);
    await agree(s, doc, route, { ["k".repeat(129)]: 1 }, false);
  });

  await t.step("sets, registers and purge", async () => {
    const add = { method: "post", path: "/crdt/sets/tags/add", docPath: "/crdt/sets/{name}/add" };
    await agree(s, doc, add, { element: "red" }, true);
    await agree(s, doc, add, { element: "" }, false);
    await agree(s, doc, add, { element: "x".repeat(257) }, false);
    const put = { method: "put", path: "/crdt/registers/color", docPath: "/crdt/registers/{name}" };
    await agree(s, doc, put, { value: { any: ["json", 1, null] } }, true);
    await agree(s, doc, put, { color: "blue" }, false);
    const purge = {
      method: "post",
      path: "/_edge/purge",
      docPath: "/_edge/purge",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    };
    await agree(s, doc, purge, { tags: ["product-1"] }, true);
    await agree(s, doc, purge, { tags: ["a,b"] }, false);
    await agree(s, doc, purge, { urls: [], tags: [], sof: true }, false);
  });
});

Deno.test("Request bodies: any JSON item under data.itemSchema json", async () => {
  await using s = await docEdge();
  const doc = await s.document();
  const route = { method: "put", path: "/items/i-2", docPath: "/items/{id}" };
  for (const body of [1, "text", null, [1, [2, { a: [3] }]], { deep: { er: [true] } }]) {
    await agree(s, doc, route, body, true);
  }
});

import assert from "node:assert/strict";
import type { z } from "zod";
import { DEV_CENTRAL_TOKEN } from "../../../lib/features/analytics/wiring.ts";
import { ProblemSchema } from "../../../lib/features/docs/openapi/problem.ts";
import * as analytics from "../../../lib/features/analytics/responses.ts";
import * as crdt from "../../../lib/features/crdt/responses.ts";
import { ItemWrittenSchema } from "../../../lib/features/items/responses.ts";
import * as monitoring from "../../../lib/features/monitoring/responses.ts";
import { cacheAnswerSchemas } from "../../../lib/features/cache/routes.ts";
import { SyncAckSchema } from "../../../lib/features/crdt/sync/protocol.ts";
import { validateJson } from "./_json_schema.ts";
import { ADMIN_TOKEN, docEdge, SYNC_TOKEN, T0 } from "./_fixture.ts";
import type { DocEdge } from "./_fixture.ts";

type Obj = Record<string, unknown>;
const { CacheSnapshotSchema, PurgeResultSchema } = cacheAnswerSchemas();

/**
 * Calls the live route and checks its answer against the document: the status is listed (5xx
 * may fall to `default`), the media type is the documented one, and the body matches the
 * documented schema. With `strict`, the zod schema must also keep every field (none undocumented).
 */
async function check(
  s: DocEdge,
  doc: Obj,
  call: { method: string; path: string; docPath: string; body?: unknown; headers?: Obj },
  strict?: z.ZodType,
): Promise<{ status: number; body: unknown }> {
  const res = await s.call(call.path, {
    method: call.method.toUpperCase(),
    headers: {
      ...(call.body !== undefined ? { "content-type": "application/json" } : {}),
      ...call.headers as Record<string, string>,
    },
    body: call.body === undefined ? undefined : JSON.stringify(call.body),
  });
  const where = `${call.method.toUpperCase()} ${call.path} → ${res.status}`;
  const op = (doc.paths as Record<string, Record<string, Obj>>)[call.docPath][call.method];
  const responses = op.responses as Record<string, Obj>;
  const documented = responses[String(res.status)] ??
    (res.status >= 500 ? responses.default : undefined);
  const text = await res.text();
  assert.ok(documented, `${where}: status not documented (${text.slice(0, 200)})`);
  const content = documented.content as Record<string, { schema: Obj }> | undefined;
  if (content === undefined) {
    assert.equal(text, "", `${where}: a body where none is documented`);
    return { status: res.status, body: null };
  }
  const type = res.headers.get("content-type") ?? "";
  const media = Object.keys(content).find((t) => t.split(";")[0] === type.split(";")[0]);
  assert.ok(media, `${where}: ${type} is not among ${Object.keys(content)}`);
  const body = media.includes("json") ? JSON.parse(text) : text;
  const errors = validateJson(body, content[media].schema, doc);
  assert.deepEqual(errors, [], `${where}: ${text.slice(0, 300)}`);
  if (strict) assert.deepEqual(strict.parse(body), body, `${where}: undocumented fields`);
  return { status: res.status, body };
}

Deno.test("Live answers match the documented responses", async (t) => {
  await using s = await docEdge({}, { SYNC_TOKEN });
  const doc = await s.document();
  const c = (method: string, path: string, docPath = path, more: Partial<Obj> = {}) => ({
    method,
    path,
    docPath,
    ...more,
  });

  await t.step("node, monitoring, cache", async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const op = (path: string, docPath = path) => c("get", path, docPath, { headers: admin });
    await check(s, doc, c("get", "/_edge/whereami"), monitoring.WhereAmISchema);
    await check(s, doc, c("get", "/_edge/health"), monitoring.HealthSchema);
    await s.edge.jobs.runNow("metrics.snapshot");
    const { body } = await check(s, doc, op("/_edge/stats"), monitoring.GlobalStatsSchema);
    assert.equal((body as { edge_count: number }).edge_count, 1);
    await check(s, doc, op("/_edge/stats?region=Not_A_Region", "/_edge/stats"), ProblemSchema);
    await check(s, doc, c("get", "/_edge/stats"), ProblemSchema);
    await check(s, doc, op("/_edge/metrics"));
    await check(s, doc, op("/_edge/dashboard"));
    await check(s, doc, c("get", "/_edge/dashboard/app.js"));
    await check(s, doc, c("get", "/_edge/dashboard/app.css"));
    await check(s, doc, op("/_edge/cache"), CacheSnapshotSchema);
    const purge = c("post", "/_edge/purge", "/_edge/purge", { headers: admin });
    await check(s, doc, { ...purge, body: { urls: ["/a"], soft: true } }, PurgeResultSchema);
    await check(s, doc, { ...purge, headers: {}, body: { tags: ["t"] } }, ProblemSchema);
    await check(s, doc, c("get", "/_edge/docs"));
    await check(s, doc, c("get", "/_edge/openapi.json"));
  });

  await t.step("sync", async () => {
    const auth = { authorization: `Bearer ${SYNC_TOKEN}` };
    const payload = {
      v: 1,
      kind: "delta",
      from: { replica: "peer-1", kvId: "0123456789ab" },
      objects: [{
        type: "counter",
        name: "visits",
        state: { type: "pn-counter", v: 1, p: { "peer-1": 3 }, n: {} },
      }],
    };
    const post = c("post", "/_edge/sync", "/_edge/sync", { headers: auth, body: payload });
    const { body } = await check(s, doc, post, SyncAckSchema);
    assert.equal((body as { changed: number }).changed, 1);
    await check(s, doc, { ...post, body: { ...payload, v: 2 } }, ProblemSchema);
    await check(s, doc, { ...post, headers: {} }, ProblemSchema);
    await check(
      s,
      doc,
      c("get", "/_edge/sync", "/_edge/sync", { headers: auth }),
      crdt.SyncStatusSchema,
    );
  });

  await t.step("items and CRDTs", async () => {
    const item = "/items/{id}";
    const { status } = await check(
      s,
      doc,
      c("put", "/items/lamp", item, { body: { watts: 40 } }),
      ItemWrittenSchema,
    );
    assert.equal(status, 201);
    await check(
      s,
      doc,
      c("put", "/items/lamp", item, { body: { watts: 60 } }),
      ItemWrittenSchema,
    );
    await check(s, doc, c("get", "/items/lamp", item));
    await check(s, doc, c("get", "/items/lamp", item, { headers: { "if-none-match": "*" } }));
    await check(
      s,
      doc,
      c("put", "/items/lamp", item, {
        body: 1,
        headers: { "if-match": '"nope"' },
      }),
      ProblemSchema,
    );
    await check(s, doc, c("delete", "/items/lamp", item));
    await check(s, doc, c("get", "/items/lamp", item), ProblemSchema);
    await check(s, doc, c("get", "/items/bad%20id", item), ProblemSchema);

    const counter = "/crdt/counters/{name}";
    await check(
      s,
      doc,
      c("post", "/crdt/counters/hits/increment", `${counter}/increment`, {
        body: { by: 2 },
      }),
      crdt.CounterSchema,
    );
    await check(
      s,
      doc,
      c("post", "/crdt/counters/hits/decrement", `${counter}/decrement`, {
        body: {},
      }),
      crdt.CounterSchema,
    );
    await check(s, doc, c("get", "/crdt/counters/hits", counter), crdt.CounterSchema);
    const set = "/crdt/sets/{name}";
    await check(
      s,
      doc,
      c("post", "/crdt/sets/tags/add", `${set}/add`, {
        body: { element: "red" },
      }),
      crdt.SetChangeSchema,
    );
    await check(
      s,
      doc,
      c("post", "/crdt/sets/tags/remove", `${set}/remove`, {
        body: { element: "blue" },
      }),
      crdt.SetChangeSchema,
    );
    await check(s, doc, c("get", "/crdt/sets/tags", set), crdt.SetSchema);
    const reg = "/crdt/registers/{name}";
    await check(s, doc, c("get", "/crdt/registers/color", reg), ProblemSchema);
    await check(
      s,
      doc,
      c("put", "/crdt/registers/color", reg, {
        body: { value: { rgb: [1, 2, 3] } },
      }),
      crdt.RegisterSchema,
    );
    await check(s, doc, c("get", "/crdt/registers/color", reg), crdt.RegisterSchema);
    await check(
      s,
      doc,
      c("post", "/crdt/sets/-bad/add", `${set}/add`, { body: {} }),
      ProblemSchema,
    );
  });

  await t.step("events and the collector", async () => {
    const events = { events: [{ user_id: "u-1", event_type: "click", timestamp: T0 - 5000 }] };
    await check(
      s,
      doc,
      c("post", "/events", "/events", { body: events }),
      analytics.EventsAcceptedSchema,
    );
    const partial = { events: [...events.events, { user_id: "u-1" }] };
    const { body } = await check(
      s,
      doc,
      c("post", "/events?partial=true", "/events", { body: partial }),
      analytics.EventsAcceptedSchema,
    );
    assert.equal((body as { rejected: unknown[] }).rejected.length, 1);
    await check(s, doc, c("post", "/events", "/events", { body: partial }), ProblemSchema);
    await check(
      s,
      doc,
      c("get", "/events/users/u-1", "/events/users/{id}"),
      analytics.UserEventsSchema,
    );
    await check(s, doc, c("get", "/events/users/u-1?limit=0", "/events/users/{id}"), ProblemSchema);
    await check(
      s,
      doc,
      c("get", "/events/counts?minutes=5", "/events/counts"),
      analytics.EventCountsSchema,
    );
    await check(s, doc, c("get", "/events/bandwidth"), analytics.BandwidthSchema);
    const flushed = await check(
      s,
      doc,
      c("post", "/_edge/analytics/flush", "/_edge/analytics/flush", {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      }),
      analytics.FlushReportSchema,
    );
    await check(s, doc, c("post", "/_edge/analytics/flush"), ProblemSchema);
    assert.equal((flushed.body as { closed: number }).closed, 1);

    const auth = { authorization: `Bearer ${DEV_CENTRAL_TOKEN}` };
    const summary = {
      v: 1,
      edge_id: "us-east/test",
      interval: { start: T0, end: T0 + 60_000 },
      total_events: 2,
      counts: { by_event_type: { click: 2 }, by_user: { "u-1": { click: 2 } } },
    };
    const post = c("post", "/_central/summary", "/_central/summary", {
      headers: { ...auth, "idempotency-key": "us-east/test:1" },
      body: summary,
    });
    await check(s, doc, post, analytics.SummaryAppliedSchema);
    await check(s, doc, { ...post, headers: auth }, ProblemSchema);
    await check(s, doc, { ...post, headers: {} }, ProblemSchema);
    await check(
      s,
      doc,
      c("get", "/_central/stats", "/_central/stats", { headers: auth }),
      analytics.CentralStatsSchema,
    );
    await check(
      s,
      doc,
      c("get", "/_central/users/u-1", "/_central/users/{id}", { headers: auth }),
      analytics.CentralUserSchema,
    );
  });
});

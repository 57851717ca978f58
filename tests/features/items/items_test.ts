import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { itemChunkKey } from "../../../lib/features/items/keys.ts";
import { deadOrigin, get, makeConfig, startEdge, type TestEdge } from "../../helpers.ts";

function put(url: string, body: unknown, headers: Record<string, string> = {}) {
  return get(url, {
    method: "PUT",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function refresh(...edges: TestEdge[]) {
  for (const e of edges) await e.edge.jobs.runNow("items-changes");
}

/** Two app instances (two nodes) sharing one KV database, with one clock. */
async function twoNodes(overrides: Record<string, unknown> = {}) {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(Date.now());
  const config = makeConfig(deadOrigin(), overrides);
  const a = await startEdge(config, { kv, clock });
  const b = await startEdge(config, { kv, clock });
  await refresh(a, b);
  return {
    a,
    b,
    kv,
    clock,
    async [Symbol.asyncDispose]() {
      await a[Symbol.asyncDispose]();
      await b[Symbol.asyncDispose]();
      kv.close();
    },
  };
}

Deno.test("GET /items/:id serves from the edge after the first read, central before", async (t) => {
  await using n = await twoNodes();
  const { a, b } = n;
  let etag = "";
  await t.step("a missing item is 404 from the central copy", async () => {
    const { res, body } = await get(`${b.url}/items/doc-1`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("x-source"), "central");
    assert.equal((body as { code: string }).code, "not_found");
    assert.equal((await get(`${b.url}/items/doc-1`)).res.headers.get("x-source"), "edge");
  });
  await t.step("PUT creates it: 201, Location, ETag", async () => {
    const { res, body } = await put(`${a.url}/items/doc-1`, { title: "one" });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), "/items/doc-1");
    etag = res.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]{20}"$/);
    assert.equal(`"${(body as { version: string }).version}"`, etag);
  });
  await t.step("the writer serves its own write from memory", async () => {
    const { res, body } = await get(`${a.url}/items/doc-1`);
    assert.equal(res.headers.get("x-source"), "edge");
    assert.equal(res.headers.get("etag"), etag);
    assert.deepEqual(body, { title: "one" });
  });
  await t.step("the other node learns of it on its next refresh", async () => {
    await refresh(b);
    const first = await get(`${b.url}/items/doc-1`);
    assert.equal(first.res.headers.get("x-source"), "central");
    assert.deepEqual(first.body, { title: "one" });
    const second = await get(`${b.url}/items/doc-1`);
    assert.equal(second.res.headers.get("x-source"), "edge");
    assert.equal(second.res.headers.get("etag"), etag);
  });
  await t.step("HEAD answers the headers without the body", async () => {
    const { res, text } = await get(`${b.url}/items/doc-1`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("etag"), etag);
    assert.equal(text, "");
  });
  await t.step("If-None-Match gives 304", async () => {
    const { res } = await get(`${b.url}/items/doc-1`, { headers: { "if-none-match": etag } });
    assert.equal(res.status, 304);
    assert.equal(res.headers.get("etag"), etag);
  });
  await t.step(
    "an update is invisible on b until b's feed runs, then b reads central",
    async () => {
      const { res } = await put(`${a.url}/items/doc-1`, { title: "two" });
      assert.equal(res.status, 200);
      // Within the staleness bound b may still serve the old version from memory.
      assert.deepEqual((await get(`${b.url}/items/doc-1`)).body, { title: "one" });
      await refresh(b);
      const after = await get(`${b.url}/items/doc-1`);
      assert.equal(after.res.headers.get("x-source"), "central");
      assert.deepEqual(after.body, { title: "two" });
    },
  );
  await t.step("past the staleness bound without a refresh, b bypasses its memory", async () => {
    await put(`${a.url}/items/doc-1`, { title: "three" });
    n.clock.advance(2001);
    const { res, body } = await get(`${b.url}/items/doc-1`);
    assert.equal(res.headers.get("x-source"), "central");
    assert.deepEqual(body, { title: "three" });
  });
});

Deno.test("PUT and DELETE /items/:id honour If-Match (412 on mismatch)", async (t) => {
  await using n = await twoNodes();
  const { a, b } = n;
  const created = await put(`${a.url}/items/x`, { n: 1 });
  const v1 = created.res.headers.get("etag")!;
  await t.step("If-None-Match: * refuses to overwrite", async () => {
    const { res, body } = await put(`${b.url}/items/x`, { n: 2 }, { "if-none-match": "*" });
    assert.equal(res.status, 412);
    assert.equal((body as { code: string }).code, "precondition_failed");
  });
  await t.step("a stale If-Match loses; the current one wins", async () => {
    const ok = await put(`${b.url}/items/x`, { n: 2 }, { "if-match": v1 });
    assert.equal(ok.res.status, 200);
    const stale = await put(`${a.url}/items/x`, { n: 3 }, { "if-match": v1 });
    assert.equal(stale.res.status, 412);
    await refresh(a);
    assert.deepEqual((await get(`${a.url}/items/x`)).body, { n: 2 });
  });
  await t.step("two writers racing with the same If-Match: exactly one wins", async () => {
    const current = (await get(`${a.url}/items/x`)).res.headers.get("etag")!;
    const results = await Promise.all(
      [a, b, a, b].map((e, i) => put(`${e.url}/items/x`, { n: 10 + i }, { "if-match": current })),
    );
    assert.deepEqual(results.map((r) => r.res.status).sort(), [200, 412, 412, 412]);
    await refresh(a, b);
    const winner = results.findIndex((r) => r.res.status === 200);
    assert.deepEqual((await get(`${b.url}/items/x`)).body, { n: 10 + winner });
  });
  await t.step("a weak tag never matches If-Match", async () => {
    await refresh(a);
    const current = (await get(`${a.url}/items/x`)).res.headers.get("etag")!;
    const { res } = await put(`${a.url}/items/x`, { n: 4 }, { "if-match": `W/${current}` });
    assert.equal(res.status, 412);
  });
  await t.step("DELETE with a wrong If-Match is 412, then 204, then 404", async () => {
    assert.equal(
      (await get(`${b.url}/items/x`, { method: "DELETE", headers: { "if-match": '"nope"' } })).res
        .status,
      412,
    );
    assert.equal((await get(`${b.url}/items/x`, { method: "DELETE" })).res.status, 204);
    assert.equal((await get(`${b.url}/items/x`, { method: "DELETE" })).res.status, 404);
    await refresh(a);
    const gone = await get(`${a.url}/items/x`);
    assert.equal(gone.res.status, 404);
    assert.equal(gone.res.headers.get("x-source"), "central");
    // The absence is cached as of the delete: the next read is answered from memory.
    const again = await get(`${a.url}/items/x`);
    assert.equal(again.res.status, 404);
    assert.equal(again.res.headers.get("x-source"), "edge");
  });
  await t.step("If-Match: * on a missing item is 412", async () => {
    const { res } = await put(`${a.url}/items/x`, { n: 5 }, { "if-match": "*" });
    assert.equal(res.status, 412);
  });
});

Deno.test("PUT /items/:id stores large items in chunks and replaces them cleanly", async () => {
  await using n = await twoNodes({ data: { maxBodyBytes: 300_000 } });
  const big = { blob: "é".repeat(70_000), list: Array.from({ length: 2000 }, (_, i) => i) };
  const { res } = await put(`${n.a.url}/items/big`, big);
  assert.equal(res.status, 201);
  const etag = res.headers.get("etag")!.slice(1, -1);
  assert.ok((await n.kv.get(itemChunkKey("big", etag, 2))).value instanceof Uint8Array);
  await refresh(n.b);
  assert.deepEqual((await get(`${n.b.url}/items/big`)).body, big);
  await put(`${n.a.url}/items/big`, { small: true });
  for (let i = 0; i < 4; i++) {
    assert.equal((await n.kv.get(itemChunkKey("big", etag, i))).value, null);
  }
  await refresh(n.b);
  assert.deepEqual((await get(`${n.b.url}/items/big`)).body, { small: true });
});

Deno.test("PUT /items/:id rejects bad input with a problem and stores nothing", async (t) => {
  await using n = await twoNodes({ data: { itemSchema: "object", maxBodyBytes: 1024 } });
  const url = `${n.a.url}/items`;
  const cases: [string, string, RequestInit, number, string][] = [
    ["a bad id", `${url}/bad%20id`, { body: "{}" }, 400, "validation_failed"],
    ["an over-long id", `${url}/${"x".repeat(129)}`, { body: "{}" }, 400, "validation_failed"],
    ["invalid JSON", `${url}/a`, { body: "{nope" }, 400, "invalid_json"],
    ["not an object", `${url}/a`, { body: "[1,2]" }, 400, "validation_failed"],
    [
      "too large",
      `${url}/a`,
      { body: JSON.stringify({ s: "x".repeat(2000) }) },
      413,
      "body_too_large",
    ],
    ["too deep", `${url}/a`, { body: "[".repeat(40) + "]".repeat(40) }, 400, "too_deep"],
    [
      "wrong media type",
      `${url}/a`,
      { body: "{}", headers: { "content-type": "text/plain" } },
      415,
      "unsupported_media_type",
    ],
    [
      "malformed If-Match",
      `${url}/a`,
      { body: "{}", headers: { "if-match": "abc" } },
      400,
      "invalid_header",
    ],
    [
      "If-None-Match with a tag",
      `${url}/a`,
      { body: "{}", headers: { "if-none-match": '"x"' } },
      400,
      "invalid_header",
    ],
  ];
  for (const [name, target, init, status, code] of cases) {
    await t.step(name, async () => {
      const headers = { "content-type": "application/json", ...(init.headers as object) };
      const { res, body } = await get(target, { ...init, method: "PUT", headers });
      assert.equal(res.status, status);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.equal((body as { code: string }).code, code);
    });
  }
  const stored = await Array.fromAsync(n.kv.list({ prefix: ["items", "item"] }));
  assert.equal(stored.length, 0);
});

Deno.test("Items invalidate other nodes through kv.watch without waiting for the poll", async () => {
  await using n = await twoNodes();
  n.b.edge.data.items.feed.start();
  await put(`${n.a.url}/items/w`, { v: 1 });
  assert.deepEqual((await get(`${n.b.url}/items/w`)).body, { v: 1 });
  await put(`${n.a.url}/items/w`, { v: 2 });
  // No poll job runs here: only the watch can bring the change.
  const deadline = Date.now() + 3000;
  let body: unknown;
  while (Date.now() < deadline) {
    body = (await get(`${n.b.url}/items/w`)).body;
    if ((body as { v: number }).v === 2) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(body, { v: 2 });
});

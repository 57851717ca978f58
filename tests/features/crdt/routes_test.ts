import assert from "node:assert/strict";
import { ManualClock } from "../../../lib/core/clock.ts";
import { deadOrigin, get, makeConfig, startEdge } from "../../helpers.ts";

function post(url: string, body: unknown, init: RequestInit = {}) {
  return get(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

Deno.test("POST /crdt/counters/:name/increment from several app instances on one KV is exact", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(Date.now());
  const config = makeConfig(deadOrigin());
  // Three instances of one node (they share the replica id through the shared KV).
  await using a = await startEdge(config, { kv, clock });
  await using b = await startEdge(config, { kv, clock });
  await using c = await startEdge(config, { kv, clock });
  const nodes = [a, b, c];
  let expected = 0;
  const requests: Promise<{ res: Response }>[] = [];
  for (let i = 0; i < 150; i++) {
    const by = (i % 4) + 1;
    const op = i % 6 === 5 ? "decrement" : "increment";
    expected += op === "increment" ? by : -by;
    requests.push(post(`${nodes[i % 3].url}/crdt/counters/visits/${op}`, { by }));
  }
  const results = await Promise.all(requests);
  assert.ok(results.every((r) => r.res.status === 200));
  const { body } = await get(`${b.url}/crdt/counters/visits`);
  const counter = body as { value: number; replicas: Record<string, { p: number; n: number }> };
  assert.equal(counter.value, expected);
  assert.equal(Object.keys(counter.replicas).length, 1);
  assert.match(Object.keys(counter.replicas)[0], /^us-east-[0-9a-f]{12}$/);
});

Deno.test("/crdt/counters answers value and per-replica counts", async (t) => {
  await using e = await startEdge(makeConfig(deadOrigin(), {}, { REPLICA_ID: "node-1" }));
  await t.step("a counter never touched is 0", async () => {
    const { res, body } = await get(`${e.url}/crdt/counters/fresh`);
    assert.equal(res.status, 200);
    assert.deepEqual(body, { name: "fresh", value: 0, replicas: {} });
  });
  await t.step("increment and decrement", async () => {
    await post(`${e.url}/crdt/counters/c/increment`, { by: 5 });
    const { body } = await post(`${e.url}/crdt/counters/c/decrement`, { by: 2 });
    assert.deepEqual(body, { name: "c", value: 3, replicas: { "node-1": { p: 5, n: 2 } } });
  });
  await t.step("by defaults to 1", async () => {
    const { body } = await post(`${e.url}/crdt/counters/c/increment`, {});
    assert.equal((body as { value: number }).value, 4);
  });
  await t.step("no body at all is a step of 1, whatever the content type says", async () => {
    for (
      const init of [
        { method: "POST" },
        { method: "POST", headers: { "content-type": "application/json" } },
        { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" } },
        { method: "POST", body: "" },
      ]
    ) {
      const { res } = await get(`${e.url}/crdt/counters/d/increment`, init);
      assert.equal(res.status, 200, JSON.stringify(init));
    }
    const { body } = await post(`${e.url}/crdt/counters/d/decrement`, "", { body: undefined });
    assert.equal((body as { value: number }).value, 3);
  });
  const bad: [string, string, unknown, number][] = [
    ["zero", "c", { by: 0 }, 400],
    ["negative", "c", { by: -3 }, 400],
    ["fraction", "c", { by: 1.5 }, 400],
    ["too large", "c", { by: 1_000_001 }, 400],
    ["a string", "c", { by: "5" }, 400],
    ["unknown field", "c", { by: 1, extra: true }, 400],
    ["bad name", "bad%20name", { by: 1 }, 400],
    ["too long name", "x".repeat(65), { by: 1 }, 400],
    ["not JSON", "c", "nope", 400],
    ["only whitespace", "c", " ", 400],
    ["null", "c", "null", 400],
  ];
  for (const [name, counter, body, status] of bad) {
    await t.step(`rejects ${name}`, async () => {
      const { res, body: problem } = await post(
        `${e.url}/crdt/counters/${counter}/increment`,
        body,
      );
      assert.equal(res.status, status);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.ok((problem as { detail: string }).detail);
    });
  }
  await t.step("a body of another type is still refused", async () => {
    const { res } = await get(`${e.url}/crdt/counters/c/increment`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "by=1",
    });
    assert.equal(res.status, 415);
  });
  await t.step("nothing changed", async () => {
    assert.equal(((await get(`${e.url}/crdt/counters/c`)).body as { value: number }).value, 4);
  });
});

Deno.test("/crdt/sets add, remove and list elements", async (t) => {
  await using e = await startEdge(makeConfig(deadOrigin(), { crdt: { maxSetElements: 3 } }));
  await t.step("add and remove", async () => {
    assert.deepEqual(
      (await post(`${e.url}/crdt/sets/tags/add`, { element: "b" })).body,
      { name: "tags", element: "b", present: true, changed: true },
    );
    await post(`${e.url}/crdt/sets/tags/add`, { element: "a" });
    await post(`${e.url}/crdt/sets/tags/add`, { element: "ünï cödé ✓" });
    const removed = await post(`${e.url}/crdt/sets/tags/remove`, { element: "b" });
    assert.equal((removed.body as { changed: boolean }).changed, true);
    const { body } = await get(`${e.url}/crdt/sets/tags`);
    assert.deepEqual(body, { name: "tags", elements: ["a", "ünï cödé ✓"], size: 2 });
  });
  await t.step("a full set refuses new elements with 409", async () => {
    await post(`${e.url}/crdt/sets/tags/add`, { element: "c" });
    const { res, body } = await post(`${e.url}/crdt/sets/tags/add`, { element: "d" });
    assert.equal(res.status, 409);
    assert.equal((body as { code: string }).code, "limit_reached");
  });
  for (
    const [name, element] of [
      ["empty", ""],
      ["too long", "x".repeat(257)],
      ["a control character", "a\u0007b"],
      ["a lone surrogate", "a\ud800"],
      ["a number", 5],
    ] as const
  ) {
    await t.step(`rejects an element that is ${name}`, async () => {
      const { res } = await post(`${e.url}/crdt/sets/tags/add`, { element });
      assert.equal(res.status, 400);
    });
  }
});

Deno.test("GET /crdt/sets/:name pages through a large set", async (t) => {
  await using e = await startEdge(makeConfig(deadOrigin()));
  const all = Array.from({ length: 25 }, (_, i) => `el-${String(i).padStart(2, "0")}`);
  for (const element of all) await post(`${e.url}/crdt/sets/big/add`, { element });
  // Removed elements leave no gap in a page.
  for (const element of ["el-03", "el-04", "el-10"]) {
    await post(`${e.url}/crdt/sets/big/remove`, { element });
  }
  const live = all.filter((el) => !["el-03", "el-04", "el-10"].includes(el));

  await t.step("pages of `limit` joined give the whole set, once each", async () => {
    for (const limit of [1, 7, 22, 50]) {
      const seen: string[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const query: string = `limit=${limit}` +
          (after === null ? "" : `&after=${encodeURIComponent(after)}`);
        const { res, body } = await get(`${e.url}/crdt/sets/big?${query}`);
        assert.equal(res.status, 200);
        const page = body as { elements: string[]; next_after: string | null; size?: number };
        assert.ok(page.elements.length <= limit);
        assert.equal(page.size, undefined);
        seen.push(...page.elements);
        after = page.next_after;
        if (after === null) break;
      }
      assert.deepEqual(seen, live, `limit ${limit}`);
    }
  });

  await t.step("after an element that is not in the set starts at the next one", async () => {
    const { body } = await get(`${e.url}/crdt/sets/big?after=el-03&limit=2`);
    assert.deepEqual(body, { name: "big", elements: ["el-05", "el-06"], next_after: "el-06" });
    const rest = await get(`${e.url}/crdt/sets/big?after=el-24`);
    assert.deepEqual(rest.body, { name: "big", elements: [], next_after: null });
  });

  await t.step("without paging parameters: the whole set and its size", async () => {
    const { body } = await get(`${e.url}/crdt/sets/big`);
    assert.deepEqual(body, { name: "big", elements: live, size: live.length });
  });

  await t.step("bad paging parameters: 400", async () => {
    for (
      const query of ["limit=0", "limit=10001", "limit=x", "after=", `after=${"x".repeat(300)}`]
    ) {
      const { res } = await get(`${e.url}/crdt/sets/big?${query}`);
      assert.equal(res.status, 400, query);
    }
  });
});

Deno.test("/crdt/registers keep the last write", async (t) => {
  await using e = await startEdge(
    makeConfig(deadOrigin(), { crdt: { maxRegisterBytes: 64 } }),
  );
  await t.step("404 before the first write", async () => {
    assert.equal((await get(`${e.url}/crdt/registers/color`)).res.status, 404);
  });
  await t.step("PUT then GET", async () => {
    const put = (value: unknown) =>
      get(`${e.url}/crdt/registers/color`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value }),
      });
    const first = await put({ rgb: [1, 2, 3] });
    assert.equal(first.res.status, 200);
    e.clock.advance(1);
    await put("blue");
    const { body } = await get(`${e.url}/crdt/registers/color`);
    const reg = body as { value: unknown; timestamp: { wall: number; replica: string } };
    assert.equal(reg.value, "blue");
    assert.equal(reg.timestamp.wall, e.clock.now());
    assert.equal((await put("x".repeat(100))).res.status, 413);
    const deep = await get(`${e.url}/crdt/registers/color`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: `{"value":${"[".repeat(500)}${"]".repeat(500)}}`,
    });
    assert.equal(deep.res.status, 400);
    assert.equal((deep.body as { code: string }).code, "too_deep");
  });
});

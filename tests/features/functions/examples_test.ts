/** The example functions in examples/functions/, through HTTP, as a user would test theirs. */

import assert from "node:assert/strict";
import { testFunctions } from "outpost/functions/testing";
import manifest from "../../../examples/functions/_manifest.ts";

const viewer = { sub: "alice", roles: ["viewer"] };
const editor = { sub: "bob", roles: ["editor"] };

Deno.test("api/users/[id] (handleUser) keeps the origin's user in KV for an hour", async (t) => {
  await using app = await testFunctions(manifest);
  const originCalls = () => app.edge.demo!.stats()["/users/42"] ?? 0;

  await t.step("the first call goes to the origin and stores the user", async () => {
    const res = await app.request("/api/users/42", { user: viewer });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-edge-kv"), "MISS");
    assert.deepEqual(await res.json(), {
      id: "42",
      name: "User 42",
      email: "42@example.com",
      version: 1,
    });
    assert.equal(originCalls(), 1);
    const stored = await app.kv("api/users/[id]").get("user:42");
    assert.deepEqual(stored, { id: "42", name: "User 42", email: "42@example.com", version: 1 });
  });

  await t.step("later calls within the hour are answered from KV", async () => {
    app.clock.advance(3_599_000);
    const res = await app.request("/api/users/42", { user: viewer });
    assert.equal(res.headers.get("x-edge-kv"), "HIT");
    assert.equal((await res.json()).name, "User 42");
    assert.equal(originCalls(), 1);
  });

  await t.step("after expirationTtl the origin is asked again", async () => {
    app.clock.advance(1_000);
    const res = await app.request("/api/users/42", { user: viewer });
    assert.equal(res.headers.get("x-edge-kv"), "MISS");
    await res.body?.cancel();
    assert.equal(originCalls(), 2);
  });

  await t.step("it is behind authorization like everything under /api", async () => {
    const res = await app.request("/api/users/42");
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    await res.body?.cancel();
  });

  await t.step("an invalid id is a 400 problem and never reaches the origin", async () => {
    const res = await app.request("/api/users/a.b", { user: viewer });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.code, "invalid_user_id");
    assert.equal(body.request_id, res.headers.get("x-request-id"));
    assert.equal(app.edge.demo!.stats()["/users/a.b"], undefined);
  });
});

Deno.test("api/users/[id] answers the origin's 404 and failures as problems", async () => {
  await using app = await testFunctions(manifest, {
    origin: (req) =>
      new URL(req.url).pathname === "/users/gone"
        ? Response.json({ title: "not here" }, { status: 404 })
        : new Response("down", { status: 500 }),
  });
  const gone = await app.request("/api/users/gone", { user: viewer });
  assert.equal(gone.status, 404);
  assert.equal((await gone.json()).code, "user_not_found");
  const failed = await app.request("/api/users/7", { user: viewer });
  assert.equal(failed.status, 502);
  assert.equal((await failed.json()).code, "origin_error");
  assert.equal(await app.kv("api/users/[id]").get("user:7"), null);
});

Deno.test("hello greets in the client's language and names its nearest region", async (t) => {
  await using app = await testFunctions(manifest);
  const cases = [
    { country: "FR", greeting: "Bonjour", region: "eu-west" },
    { country: "JP", greeting: "Konnichiwa", region: "ap-southeast" },
    { country: "US", greeting: "Hello", region: "us-east" },
  ];
  for (const c of cases) {
    await t.step(`${c.country}: ${c.greeting} from ${c.region}`, async () => {
      const res = await app.request("/hello", { headers: { "cf-ipcountry": c.country } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("cache-control"), "private, no-store");
      const body = await res.json();
      assert.equal(body.greeting, c.greeting);
      assert.equal(body.country, c.country);
      assert.equal(body.served_by, "us-east");
      // The nearest region is the geodesic one (CF-IPCountry gives the country's centroid).
      assert.ok(["us-west", "us-east", "eu-west", "ap-southeast"].includes(body.nearest_region));
      if (c.country !== "US") assert.equal(body.nearest_region, c.region);
    });
  }
  await t.step("without a location: Hello, country null", async () => {
    const body = await (await app.request("/hello")).json();
    assert.equal(body.greeting, "Hello");
    assert.equal(body.country, null);
  });
  await t.step("every greeting is an analytics event", () => {
    assert.equal(app.edge.analytics.edge!.tracker.pending, cases.length + 1);
  });
});

Deno.test("api/notes: editors write, viewers read their own, others are refused", async (t) => {
  await using app = await testFunctions(manifest);
  const json = { "content-type": "application/json" };
  let created: { id: string; author: string; text: string };

  await t.step("an editor adds a note (201, Location)", async () => {
    const res = await app.request("/api/notes", {
      method: "POST",
      user: editor,
      headers: json,
      body: JSON.stringify({ text: "  buy milk " }),
    });
    assert.equal(res.status, 201);
    created = await res.json();
    assert.equal(created.author, "bob");
    assert.equal(created.text, "buy milk");
    assert.equal(res.headers.get("location"), `/api/notes/${created.id}`);
  });

  await t.step("a viewer may not write (403 before the function runs)", async () => {
    const res = await app.request("/api/notes", {
      method: "POST",
      user: { sub: "bob", roles: ["viewer"] },
      headers: json,
      body: JSON.stringify({ text: "sneaky" }),
    });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, "permission_denied");
    const stored = await app.kv("notes").list();
    assert.deepEqual(stored.entries.map((e) => (e.value as { text: string }).text), ["buy milk"]);
  });

  await t.step("the author reads the list and the note; another user sees none", async () => {
    const mine = await (await app.request("/api/notes", { user: { ...editor, roles: ["viewer"] } }))
      .json();
    assert.deepEqual(mine.notes.map((n: { id: string }) => n.id), [created.id]);
    assert.equal(mine.next_cursor, null);
    const one = await app.request(`/api/notes/${created.id}`, { user: editor });
    assert.equal((await one.json()).text, "buy milk");
    const theirs = await (await app.request("/api/notes", { user: viewer })).json();
    assert.deepEqual(theirs.notes, []);
    const other = await app.request(`/api/notes/${created.id}`, { user: viewer });
    assert.equal(other.status, 404);
    await other.body?.cancel();
  });

  await t.step("bad bodies are problems: 400 invalid note, 415, 400 invalid JSON", async () => {
    const post = (body: string, type = "application/json") =>
      app.request("/api/notes", {
        method: "POST",
        user: editor,
        headers: { "content-type": type },
        body,
      });
    const empty = await post(JSON.stringify({ text: "   " }));
    assert.equal(empty.status, 400);
    assert.equal((await empty.json()).code, "invalid_note");
    const extra = await post(JSON.stringify({ text: "x", admin: true }));
    assert.equal(extra.status, 400);
    await extra.body?.cancel();
    const text = await post("hello", "text/plain");
    assert.equal(text.status, 415);
    await text.body?.cancel();
    const broken = await post("{");
    assert.equal(broken.status, 400);
    assert.equal((await broken.json()).code, "invalid_json");
  });

  await t.step("deleting needs notes:delete (admins only in the default policy)", async () => {
    const denied = await app.request(`/api/notes/${created.id}`, {
      method: "DELETE",
      user: editor,
    });
    assert.equal(denied.status, 403);
    await denied.body?.cancel();
    const done = await app.request(`/api/notes/${created.id}`, {
      method: "DELETE",
      user: { sub: "bob", roles: ["admin"] },
    });
    assert.equal(done.status, 204);
    assert.deepEqual((await app.kv("notes").list()).entries, []);
  });
});

Deno.test("api/notes refuses to run unauthenticated when authorization is off", async () => {
  await using app = await testFunctions(manifest, { config: { authz: { enabled: false } } });
  const res = await app.request("/api/notes");
  assert.equal(res.status, 401);
  assert.equal((await res.json()).code, "unauthenticated");
});

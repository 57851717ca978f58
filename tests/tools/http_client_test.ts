import assert from "node:assert/strict";
import { bodyText, SimClient } from "../../tools/sim/http_client.ts";

function lateOrGone(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

function server(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/chunked") {
      const parts = ["alpha-", "beta-", "gamma"];
      return new Response(
        new ReadableStream({
          pull(c) {
            const p = parts.shift();
            if (p === undefined) c.close();
            else c.enqueue(new TextEncoder().encode(p));
          },
        }),
      );
    }
    if (url.pathname === "/slow") {
      // Late by 500 ms, or until the client hangs up, so the server's shutdown need not wait.
      await lateOrGone(req.signal, 500);
      return new Response("late");
    }
    if (url.pathname === "/empty") return new Response(null, { status: 204 });
    const body = req.method === "POST" ? await req.text() : "";
    return Response.json({
      method: req.method,
      path: url.pathname,
      body,
      x: req.headers.get("x-a"),
    });
  });
}

Deno.test("SimClient.request() reads whole responses", async (t) => {
  await using s = server();
  const port = s.addr.port;
  const client = new SimClient();
  await t.step("a content-length body", async () => {
    const res = await client.request(port, { path: "/x", headers: { "x-a": "1" } });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(bodyText(res)), { method: "GET", path: "/x", body: "", x: "1" });
    assert.ok(res.ms > 0);
  });
  await t.step("a chunked body", async () => {
    const res = await client.request(port, { path: "/chunked" });
    assert.equal(bodyText(res), "alpha-beta-gamma");
  });
  await t.step("a POST body", async () => {
    const res = await client.request(port, { method: "POST", path: "/p", body: "héllo" });
    assert.equal(JSON.parse(bodyText(res)).body, "héllo");
  });
  await t.step("no body for 204", async () => {
    const res = await client.request(port, { path: "/empty" });
    assert.equal(res.status, 204);
    assert.equal(res.body.length, 0);
  });
});

Deno.test("SimClient opens a connection per request unless keepAlive", async (t) => {
  await using s = server();
  const port = s.addr.port;
  await t.step("fresh", async () => {
    const client = new SimClient();
    assert.equal((await client.request(port, { path: "/a" })).connected, true);
    assert.equal((await client.request(port, { path: "/b" })).connected, true);
  });
  await t.step("keep-alive reuses the idle connection", async () => {
    const client = new SimClient({ keepAlive: true });
    assert.equal((await client.request(port, { path: "/a" })).connected, true);
    assert.equal((await client.request(port, { path: "/chunked" })).connected, false);
    assert.equal((await client.request(port, { path: "/b" })).connected, false);
    client.close();
  });
});

Deno.test("SimClient.request() gives up after its timeout", async () => {
  await using s = server();
  const client = new SimClient({ timeoutMs: 100 });
  await assert.rejects(
    () => client.request(s.addr.port, { path: "/slow" }),
    /No answer within 100 ms/,
  );
});

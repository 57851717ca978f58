import assert from "node:assert/strict";
import zlib from "node:zlib";
import { rawFetch } from "../../../lib/features/proxy/raw_fetch.ts";
import { encodedFetch } from "../../../lib/features/proxy/encoded_fetch.ts";
import { deadOrigin } from "../../helpers.ts";

const PAGE = new TextEncoder().encode("hello ".repeat(2000));
const GZ = new Uint8Array(zlib.gzipSync(PAGE));

function origin(): { url: string; seen: string[] } & AsyncDisposable {
  const seen: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    seen.push(`${req.method} ${path} ${req.headers.get("accept-encoding") ?? "-"}`);
    if (path === "/echo") {
      const body = new Uint8Array(await req.arrayBuffer());
      return new Response(body, {
        headers: { "x-length": req.headers.get("content-length") ?? "none" },
      });
    }
    if (path === "/empty") return new Response(null, { status: 204 });
    if (path === "/large") {
      const body = new Uint8Array(300_000);
      for (let i = 0; i < body.length; i++) body[i] = i % 251;
      return new Response(body);
    }
    if (path === "/cut") {
      // Declares more than it sends, then the connection goes.
      const body = new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(10));
          c.error(new Error("origin failed mid-body"));
        },
      });
      return new Response(body, { headers: { "content-type": "text/plain" } });
    }
    if (path === "/slow") await new Promise((r) => setTimeout(r, 500));
    return new Response(GZ as Uint8Array<ArrayBuffer>, {
      headers: { "content-encoding": "gzip", "set-cookie": "a=1", "content-type": "text/plain" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("rawFetch() hands the encoded body over as the origin sent it", async (t) => {
  await using o = origin();
  const f = rawFetch();
  await t.step("gzip stays gzip, with its Content-Length and fields", async () => {
    for (let i = 0; i < 2; i++) { // the second one on a kept-alive connection
      const res = await f(`${o.url}/page`, { headers: { "accept-encoding": "gzip" } });
      const bytes = new Uint8Array(await res.arrayBuffer());
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-encoding"), "gzip");
      assert.equal(Number(res.headers.get("content-length")), GZ.byteLength);
      assert.deepEqual(res.headers.getSetCookie(), ["a=1"]);
      assert.deepEqual(bytes, GZ);
    }
  });
  await t.step("request bodies: bytes, a stream, none", async () => {
    const bytes = await f(`${o.url}/echo`, { method: "PUT", body: new Uint8Array([1, 2, 3]) });
    assert.deepEqual(new Uint8Array(await bytes.arrayBuffer()), new Uint8Array([1, 2, 3]));
    assert.equal(bytes.headers.get("x-length"), "3");
    const stream = await f(`${o.url}/echo`, {
      method: "POST",
      body: new Blob(["streamed"]).stream(),
    });
    assert.equal(await stream.text(), "streamed");
    const none = await f(`${o.url}/echo`, { method: "POST" });
    assert.equal(none.headers.get("x-length"), "0");
  });
  await t.step("HEAD and 204 have no body", async () => {
    const head = await f(`${o.url}/page`, { method: "HEAD" });
    assert.equal(head.body, null);
    const empty = await f(`${o.url}/empty`);
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
  });
  await t.step("an extension method goes through", async () => {
    const res = await f(`${o.url}/page`, { method: "M-SEARCH" });
    await res.body?.cancel();
    assert.ok(o.seen.some((s) => s.startsWith("M-SEARCH /page")));
  });
  await t.step("a large body streams through whole", async () => {
    const res = await f(`${o.url}/large`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.equal(bytes.byteLength, 300_000);
    assert.equal(bytes[299_999], 299_999 % 251);
  });
  await t.step("a small body cut short of its Content-Length rejects", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const served = (async () => {
      const conn = await listener.accept();
      await conn.read(new Uint8Array(4096));
      await conn.write(
        new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"),
      );
      conn.close();
    })();
    const port = (listener.addr as Deno.NetAddr).port;
    await assert.rejects(async () => {
      const res = await f(`http://127.0.0.1:${port}/`);
      await res.arrayBuffer();
    });
    await served;
    listener.close();
  });
  await t.step("a body that breaks off is an error, not a short success", async () => {
    const res = await f(`${o.url}/cut`);
    await assert.rejects(() => res.arrayBuffer());
  });
  await t.step("a refused connection rejects with a TypeError", async () => {
    await assert.rejects(() => f(`${deadOrigin()}/x`), TypeError);
  });
  await t.step("an abort rejects with the signal's reason", async () => {
    const controller = new AbortController();
    const pending = f(`${o.url}/slow`, { signal: controller.signal });
    controller.abort(new Error("gave up"));
    await assert.rejects(() => pending, /gave up/);
  });
});

Deno.test("encodedFetch() sends identity requests through the fallback, others raw", async () => {
  await using o = origin();
  const used: string[] = [];
  const fallback: typeof fetch = (input, init) => {
    used.push("fallback");
    return fetch(input, init);
  };
  const raw = rawFetch();
  const f = encodedFetch(fallback, (input, init) => {
    used.push("raw");
    return raw(input, init);
  });
  const identity = await f(`${o.url}/page`, { headers: { "accept-encoding": "identity" } });
  // The origin ignores identity; Deno's fetch does not decode what it did not ask for.
  assert.deepEqual(new Uint8Array(await identity.arrayBuffer()), GZ);
  const gzip = await f(`${o.url}/page`, {
    headers: new Headers({ "accept-encoding": "br, gzip" }),
  });
  assert.deepEqual(new Uint8Array(await gzip.arrayBuffer()), GZ);
  assert.deepEqual(used, ["fallback", "raw"]);
});

Deno.test("encodedFetch() without a transport loads rawFetch on the first encoded request", async () => {
  await using o = origin();
  const f = encodedFetch(fetch);
  const [a, b] = await Promise.all([
    f(`${o.url}/page`, { headers: { "accept-encoding": "gzip" } }),
    f(`${o.url}/page`, { headers: { "accept-encoding": "gzip" } }),
  ]);
  for (const res of [a, b]) {
    assert.equal(res.headers.get("content-encoding"), "gzip");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), GZ, "handed over encoded");
  }
});

Deno.test("rawFetch() aborting a request on a kept-alive connection ends it at the origin", async () => {
  // Each hanging request at the origin ends when the edge gives up on it: no origin work is left
  // running for nobody (Deno's node:http sends such a request again on a new socket).
  const ended: Array<() => void> = [];
  const endedAll = (n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => new Promise<void>((r) => (ended[i] = r))));
  let hangs = 0;
  const closing = new AbortController();
  const options = { port: 0, hostname: "127.0.0.1", signal: closing.signal, onListen() {} };
  const server = Deno.serve(options, async (req) => {
    if (new URL(req.url).pathname === "/fast") return new Response("ok");
    const i = hangs++;
    await new Promise<void>((resolve) => req.signal.addEventListener("abort", () => resolve()));
    ended[i]?.();
    return new Response("late");
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const f = rawFetch();
  const all = endedAll(3);
  await (await f(`${url}/fast`)).text(); // leaves a kept-alive connection to reuse
  for (let i = 0; i < 3; i++) {
    const controller = new AbortController();
    const pending = f(`${url}/hang`, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error("gave up"));
    await assert.rejects(() => pending, /gave up/);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("a request kept running at the origin")), 10_000);
  });
  try {
    await Promise.race([all, stuck]);
    assert.equal(hangs, 3, "each request reached the origin once");
  } finally {
    clearTimeout(timer);
    closing.abort(); // closes every connection, a stuck one included
    await server.finished;
  }
});

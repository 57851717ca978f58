import assert from "node:assert/strict";
import { mergeHeaders, storedHeaders } from "../../../lib/features/cache/entry.ts";
import { invalidatedUrls } from "../../../lib/features/cache/invalidate.ts";

Deno.test("storedHeaders() keeps every field but per-hop and edge-made ones (RFC 9111 §3.1)", async (t) => {
  const now = Date.UTC(2026, 0, 1);
  await t.step("unknown fields kept, hop-by-hop and recomputed ones dropped", () => {
    const out = storedHeaders(
      new Headers({
        "x-unknown": "1",
        "content-type": "text/plain",
        connection: "close",
        "keep-alive": "timeout=5",
        age: "10",
        "content-length": "5",
        "outpost-cache-control": "max-age=9",
        "x-cache": "HIT",
        date: new Date(now).toUTCString(),
      }),
      [],
      now,
    );
    assert.deepEqual(out.map(([n]) => n).sort(), ["content-type", "date", "x-unknown"]);
  });
  await t.step('private="…" fields and Set-Cookie stripped when asked', () => {
    const out = storedHeaders(new Headers({ "x-user": "u1", "set-cookie": "a=1", etag: '"e"' }), [
      "x-user",
      "set-cookie",
    ], now);
    assert.deepEqual(out.map(([n]) => n).sort(), ["date", "etag"]);
  });
  await t.step("a missing Date is added from the response time (RFC 9110 §6.6.1)", () => {
    const out = storedHeaders(new Headers(), [], now);
    assert.deepEqual(out, [["date", new Date(now).toUTCString()]]);
  });
});

Deno.test("mergeHeaders() freshens stored fields from a 304 (RFC 9111 §3.2, §4.3.4)", () => {
  const merged = mergeHeaders(
    [["content-type", "text/plain"], ["etag", '"a"'], ["cache-control", "max-age=5"], [
      "content-length",
      "5",
    ]],
    new Headers({
      "cache-control": "max-age=60",
      etag: '"a"',
      "x-new": "1",
      "content-length": "0",
      connection: "close",
    }),
  );
  const map = Object.fromEntries(merged);
  assert.equal(map["cache-control"], "max-age=60");
  assert.equal(map["x-new"], "1");
  assert.equal(map["content-type"], "text/plain");
  assert.equal(map["content-length"], "5", "a 304's Content-Length describes no body");
  assert.equal(map["connection"], undefined);
});

Deno.test("invalidatedUrls() names the URL and same-host Location/Content-Location (RFC 9111 §4.4)", () => {
  const res = (headers: Record<string, string>) => new Response(null, { headers });
  assert.deepEqual(invalidatedUrls("http://h/a", res({})), ["http://h/a"]);
  assert.deepEqual(
    invalidatedUrls("http://h/a", res({ location: "/b", "content-location": "http://h/c" })),
    ["http://h/a", "http://h/b", "http://h/c"],
  );
  assert.deepEqual(
    invalidatedUrls("http://h/a", res({ location: "http://other/b", "content-location": "::bad" })),
    ["http://h/a", "http://h/::bad"],
  );
  assert.deepEqual(invalidatedUrls("http://h/a", res({ location: "https://h/b" })), [
    "http://h/a",
  ]);
});

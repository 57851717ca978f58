import assert from "node:assert/strict";
import {
  downstreamHeaders,
  type HeaderRecord,
  outpostHops,
  stripResponseHops,
  upstreamHeaders,
} from "../../../lib/features/proxy/headers.ts";

/** One field of a header record, null when absent (as `Headers.get` says it). */
function field(h: HeaderRecord, name: string): string | null {
  return Object.hasOwn(h, name) ? h[name] : null;
}

const info = {
  peerIp: "203.0.113.5",
  peerTrusted: false,
  host: "shop.example",
  proto: "https" as const,
  via: "outpost-us-east",
  requestId: "req-1",
};

Deno.test("upstreamHeaders() strips hop-by-hop headers, including those Connection names", () => {
  const h = upstreamHeaders(
    new Headers({
      connection: "keep-alive, X-Secret-Hop",
      "keep-alive": "timeout=5",
      "x-secret-hop": "1",
      te: "trailers",
      upgrade: "websocket",
      "proxy-authorization": "Basic x",
      host: "shop.example",
      "content-length": "5",
      accept: "application/json",
    }),
    info,
  );
  for (
    const name of [
      "connection",
      "keep-alive",
      "x-secret-hop",
      "te",
      "upgrade",
      "proxy-authorization",
      "host",
      "content-length",
    ]
  ) {
    assert.equal(field(h, name), null, name);
  }
  assert.equal(field(h, "accept"), "application/json");
  assert.equal(field(h, "accept-encoding"), "identity");
  assert.equal(field(h, "x-request-id"), "req-1");
});

Deno.test("upstreamHeaders() forwards the client's Accept-Encoding in normalised form", () => {
  const cases: Array<[string | null, string]> = [
    [null, "identity"],
    ["", "identity"],
    ["gzip, deflate, br, zstd", "br, gzip"],
    ["gzip;q=1.0, identity; q=0.5, *;q=0", "gzip"],
    ["br;q=0, gzip", "gzip"],
    ["deflate", "identity"],
    ["*", "br, gzip"],
    ["x-gzip", "gzip"],
  ];
  for (const [sent, upstream] of cases) {
    const h = upstreamHeaders(new Headers(sent === null ? {} : { "accept-encoding": sent }), info);
    assert.equal(field(h, "accept-encoding"), upstream, String(sent));
  }
  const plain = upstreamHeaders(new Headers({ "accept-encoding": "gzip, br" }), {
    ...info,
    acceptEncoding: "identity",
  });
  assert.equal(field(plain, "accept-encoding"), "identity", "proxy.acceptEncoding: identity");
});

Deno.test("upstreamHeaders() sets forwarding headers and drops untrusted claims", () => {
  const h = upstreamHeaders(
    new Headers({
      "x-forwarded-for": "1.1.1.1",
      "x-forwarded-host": "evil",
      "x-forwarded-proto": "http",
    }),
    info,
  );
  assert.equal(field(h, "x-forwarded-for"), "203.0.113.5");
  assert.equal(field(h, "x-forwarded-host"), "shop.example");
  assert.equal(field(h, "x-forwarded-proto"), "https");
  assert.equal(field(h, "via"), "1.1 outpost-us-east");
});

Deno.test("upstreamHeaders() appends to a trusted proxy's chain", () => {
  const h = upstreamHeaders(
    new Headers({ "x-forwarded-for": "198.51.100.1", "x-forwarded-proto": "http", via: "1.1 cdn" }),
    { ...info, peerIp: "127.0.0.1", peerTrusted: true, extra: { "X-Variant": "B" } },
  );
  assert.equal(field(h, "x-forwarded-for"), "198.51.100.1, 127.0.0.1");
  assert.equal(field(h, "x-forwarded-proto"), "http");
  assert.equal(field(h, "via"), "1.1 cdn, 1.1 outpost-us-east");
  assert.equal(field(h, "x-variant"), "B");
});

Deno.test("downstreamHeaders() removes hop-by-hop response headers", () => {
  const h = downstreamHeaders(
    new Headers({ "transfer-encoding": "chunked", connection: "close", etag: '"x"' }),
  );
  assert.equal(h.get("transfer-encoding"), null);
  assert.equal(h.get("connection"), null);
  assert.equal(h.get("etag"), '"x"');
});

Deno.test("outpostHops() counts Outpost entries in Via", () => {
  assert.equal(outpostHops(null), 0);
  assert.equal(outpostHops("1.1 cdn, 1.1 outpost-us-east, 1.0 outpost-eu-west"), 2);
});

Deno.test("upstreamHeaders() gives lower-case names; the edge's extra fields replace the client's", () => {
  const h = upstreamHeaders(
    new Headers({ "X-Variant": "forged", Accept: "text/html", "X-Custom": "a" }),
    { ...info, extra: { "X-Variant": "B" } },
  );
  assert.equal(field(h, "x-variant"), "B");
  assert.equal(field(h, "X-Variant"), null);
  assert.equal(field(h, "x-custom"), "a");
  for (const name of Object.keys(h)) assert.equal(name, name.toLowerCase(), name);
  // A record is what fetch takes; as a Headers it says the same.
  assert.equal(new Headers(h).get("x-variant"), "B");
});

Deno.test("stripResponseHops() takes hop-by-hop fields out of a response's own headers", () => {
  const upstream = new Headers({
    "transfer-encoding": "chunked",
    "keep-alive": "timeout=5",
    etag: '"x"',
  });
  const res = new Response(null, { headers: upstream });
  stripResponseHops(upstream, res.headers);
  assert.deepEqual([...res.headers], [["etag", '"x"']]);
  const named = new Headers({ connection: "close, X-Hop", "x-hop": "1", "x-kept": "2" });
  const copy = new Headers(named);
  stripResponseHops(named, copy);
  assert.deepEqual([...copy], [["x-kept", "2"]]);
  const none = new Headers({ etag: '"y"' });
  const kept = new Headers(none);
  stripResponseHops(none, kept);
  assert.deepEqual([...kept], [["etag", '"y"']]);
});

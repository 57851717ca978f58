import assert from "node:assert/strict";
import { downstreamHeaders, outpostHops, upstreamHeaders } from "../../lib/proxy/headers.ts";

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
    assert.equal(h.get(name), null, name);
  }
  assert.equal(h.get("accept"), "application/json");
  assert.equal(h.get("accept-encoding"), "identity");
  assert.equal(h.get("x-request-id"), "req-1");
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
    assert.equal(h.get("accept-encoding"), upstream, String(sent));
  }
  const plain = upstreamHeaders(new Headers({ "accept-encoding": "gzip, br" }), {
    ...info,
    acceptEncoding: "identity",
  });
  assert.equal(plain.get("accept-encoding"), "identity", "proxy.acceptEncoding: identity");
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
  assert.equal(h.get("x-forwarded-for"), "203.0.113.5");
  assert.equal(h.get("x-forwarded-host"), "shop.example");
  assert.equal(h.get("x-forwarded-proto"), "https");
  assert.equal(h.get("via"), "1.1 outpost-us-east");
});

Deno.test("upstreamHeaders() appends to a trusted proxy's chain", () => {
  const h = upstreamHeaders(
    new Headers({ "x-forwarded-for": "198.51.100.1", "x-forwarded-proto": "http", via: "1.1 cdn" }),
    { ...info, peerIp: "127.0.0.1", peerTrusted: true, extra: { "X-Variant": "B" } },
  );
  assert.equal(h.get("x-forwarded-for"), "198.51.100.1, 127.0.0.1");
  assert.equal(h.get("x-forwarded-proto"), "http");
  assert.equal(h.get("via"), "1.1 cdn, 1.1 outpost-us-east");
  assert.equal(h.get("x-variant"), "B");
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

/**
 * The opening handshake in both roles: the upgrade request the edge writes, the origin's answer
 * it reads (101 checks, refusal bodies by every framing), and the client's offer it splits.
 */

import assert from "node:assert/strict";
import {
  acceptFor,
  BadResponse,
  checkSwitch,
  parseHead,
  readBody,
  upgradeRequest,
} from "../../../lib/features/websocket/handshake.ts";
import { ByteReader } from "../../../lib/features/websocket/reader.ts";
import {
  handshakeFault,
  parseProtocols,
  splitOffer,
} from "../../../lib/features/websocket/protocols.ts";
import { endpointOf } from "../../../lib/features/websocket/connect.ts";
import { loadConfig } from "../../../lib/core/config.ts";

const enc = new TextEncoder();

function readerOf(text: string): ByteReader {
  const bytes = enc.encode(text);
  let done = false;
  return new ByteReader({
    read(p) {
      if (done) return Promise.resolve(null);
      done = true;
      p.set(bytes);
      return Promise.resolve(bytes.length);
    },
  });
}

async function headOf(reader: ByteReader) {
  return parseHead((await reader.readHead(4096))!);
}

Deno.test("acceptFor() answers RFC 6455's example key", async () => {
  assert.equal(await acceptFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("upgradeRequest() writes the handshake and the forwarding headers, not the client's own", () => {
  const headers = new Headers({
    "x-forwarded-for": "203.0.113.9",
    "sec-websocket-key": "client-key",
    "sec-websocket-extensions": "permessage-deflate",
    "sec-websocket-protocol": "chat",
    host: "wrong",
  });
  const text = new TextDecoder().decode(upgradeRequest("/a/b?c=1", "origin:8080", headers, "KEY"));
  assert.ok(text.startsWith("GET /a/b?c=1 HTTP/1.1\r\nHost: origin:8080\r\n"));
  assert.ok(text.includes("Sec-WebSocket-Key: KEY\r\n"));
  assert.ok(text.includes("sec-websocket-protocol: chat\r\n"));
  assert.ok(text.includes("x-forwarded-for: 203.0.113.9\r\n"));
  assert.ok(!text.includes("client-key") && !text.includes("deflate") && !text.includes("wrong"));
  assert.ok(text.endsWith("\r\n\r\n"));
  assert.throws(() => upgradeRequest("/a b", "h", new Headers(), "K"), TypeError);
  assert.throws(() => upgradeRequest("/a\r\nX: y", "h", new Headers(), "K"), TypeError);
});

Deno.test("checkSwitch() accepts only a 101 that answers this request", async (t) => {
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  const good = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
  await t.step("a valid answer without and with a subprotocol", async () => {
    assert.equal(await checkSwitch(await headOf(readerOf(good + "\r\n")), key, []), "");
    const head = await headOf(readerOf(good + "Sec-WebSocket-Protocol: b\r\n\r\n"));
    assert.equal(await checkSwitch(head, key, ["a", "b"]), "b");
  });
  const bad: Array<[string, string]> = [
    ["a wrong accept value", good.replace("xOo=", "xOx=") + "\r\n"],
    ["a subprotocol not offered", good + "Sec-WebSocket-Protocol: z\r\n\r\n"],
    ["an extension not offered", good + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"],
    ["no Upgrade header", good.replace("Upgrade: websocket\r\n", "") + "\r\n"],
  ];
  for (const [name, text] of bad) {
    await t.step(name, async () => {
      await assert.rejects(checkSwitch(await headOf(readerOf(text)), key, ["a"]), BadResponse);
    });
  }
});

Deno.test("readBody() reads a refusal by its framing", async (t) => {
  const cases: Array<[string, string, string]> = [
    ["Content-Length", "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!extra", "nope!"],
    [
      "chunked with a trailer",
      "HTTP/1.1 401 No\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
      "abcde",
    ],
    ["until the end", "HTTP/1.0 404 Not Found\r\n\r\nmissing", "missing"],
    ["no body for 204", "HTTP/1.1 204 No Content\r\n\r\n", ""],
  ];
  for (const [name, text, body] of cases) {
    await t.step(name, async () => {
      const reader = readerOf(text);
      const head = await headOf(reader);
      assert.equal(new TextDecoder().decode(await readBody(reader, head, 100)), body);
    });
  }
  const broken: Array<[string, string]> = [
    ["a body over the limit", "HTTP/1.1 403 X\r\nContent-Length: 500\r\n\r\n"],
    ["a short body", "HTTP/1.1 403 X\r\nContent-Length: 10\r\n\r\nabc"],
    ["a bad chunk size", "HTTP/1.1 403 X\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
    ["another transfer coding", "HTTP/1.1 403 X\r\nTransfer-Encoding: gzip\r\n\r\n"],
  ];
  for (const [name, text] of broken) {
    await t.step(name, async () => {
      const reader = readerOf(text);
      await assert.rejects(readBody(reader, await headOf(reader), 100), BadResponse);
    });
  }
  await t.step("heads no server sends", () => {
    for (const line of ["HTTP/2 200", "HTTP/1.1 999 X", "SSH-2.0"]) {
      assert.throws(() => parseHead(enc.encode(`${line}\r\n\r\n`)), BadResponse);
    }
    assert.throws(() => parseHead(enc.encode("HTTP/1.1 200 OK\r\n folded\r\n\r\n")), BadResponse);
  });
});

Deno.test("handshakeFault() checks the client's upgrade before any origin is contacted", () => {
  const valid = {
    upgrade: "websocket",
    connection: "keep-alive, Upgrade",
    "sec-websocket-version": "13",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  };
  assert.equal(handshakeFault("GET", new Headers(valid)), null);
  assert.equal(handshakeFault("POST", new Headers(valid))?.status, 400);
  assert.equal(handshakeFault("GET", new Headers({ ...valid, connection: "close" }))?.status, 400);
  assert.equal(
    handshakeFault("GET", new Headers({ ...valid, "sec-websocket-key": "short" }))?.status,
    400,
  );
  assert.equal(
    handshakeFault("GET", new Headers({ ...valid, "sec-websocket-version": "8" }))?.status,
    426,
  );
});

Deno.test("splitOffer() takes the bearer token out of the subprotocol offer", () => {
  assert.deepEqual(splitOffer("chat, bearer.abc.def, v2", "bearer."), {
    token: "abc.def",
    protocols: ["chat", "v2"],
  });
  assert.deepEqual(splitOffer("bearer.t", "bearer."), { token: "t", protocols: [] });
  assert.deepEqual(splitOffer("bearer.t", ""), { token: null, protocols: ["bearer.t"] });
  assert.deepEqual(splitOffer(null, "bearer."), { token: null, protocols: [] });
  assert.throws(() => splitOffer("bearer.a, bearer.b", "bearer."), RangeError);
  assert.throws(() => splitOffer("bearer.", "bearer."), RangeError);
  assert.throws(() => parseProtocols("a, b c"), RangeError);
  assert.throws(() => parseProtocols("a,,b"), RangeError);
  assert.throws(() => parseProtocols(Array(33).fill("p").join(",")), RangeError);
});

Deno.test("endpointOf() says where a WebSocket to an origin connects", () => {
  assert.deepEqual(endpointOf("https://api.example.com/base/"), {
    secure: true,
    hostname: "api.example.com",
    port: 443,
    host: "api.example.com",
    prefix: "/base",
    server: "https://api.example.com",
  });
  assert.equal(endpointOf("http://[::1]:8080")?.hostname, "::1");
  assert.equal(endpointOf("http://[::1]:8080")?.port, 8080);
  assert.equal(endpointOf("internal://demo"), null);
});

Deno.test("the websocket config section reads its environment variables and names bad ones", () => {
  const config = loadConfig({
    env: {
      KV_PATH: ":memory:",
      WEBSOCKET_MAX_CONNECTIONS: "50",
      WEBSOCKET_MAX_CONNECTIONS_PER_USER: "5",
      WEBSOCKET_IDLE_TIMEOUT_MS: "0",
      WEBSOCKET_MAX_MESSAGE_BYTES: "2MiB",
    },
    module: { websocket: { tokenProtocolPrefix: "access_token." } },
  });
  assert.equal(config.websocket.enabled, true);
  assert.equal(config.websocket.maxConnections, 50);
  assert.equal(config.websocket.maxConnectionsPerUser, 5);
  assert.equal(config.websocket.idleTimeoutMs, 0);
  assert.equal(config.websocket.maxMessageBytes, 2 * 1024 * 1024);
  assert.equal(config.websocket.tokenProtocolPrefix, "access_token.");
  assert.throws(
    () => loadConfig({ env: { KV_PATH: ":memory:", WEBSOCKET_ENABLED: "maybe" } }),
    /WEBSOCKET_ENABLED \(websocket\.enabled\): Not a boolean: maybe/,
  );
  assert.throws(
    () => loadConfig({ env: { KV_PATH: ":memory:", WEBSOCKET_MAX_CONNECTIONS: "0" } }),
    /websocket\.maxConnections \(from WEBSOCKET_MAX_CONNECTIONS\)/,
  );
  assert.throws(
    () =>
      loadConfig({
        env: { KV_PATH: ":memory:" },
        module: { websocket: { tokenProtocolPrefix: "a b" } },
      }),
    /websocket\.tokenProtocolPrefix/,
  );
});

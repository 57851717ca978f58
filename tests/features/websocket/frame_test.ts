/**
 * The framing codec: laws checked with fast-check (what is sent is what is received, however the
 * bytes are split across reads; masking is its own inverse), and the violations RFC 6455 says a
 * client must refuse.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  applyMask,
  closePayload,
  encodeFrame,
  FrameError,
  OP,
  parseClosePayload,
  parseFrameHeader,
  truncateUtf8,
} from "../../../lib/features/websocket/frame.ts";
import { ByteReader, type ByteSource } from "../../../lib/features/websocket/reader.ts";
import { type UpstreamMessage, UpstreamSocket } from "../../../lib/features/websocket/upstream.ts";

/** A source that hands out `bytes` in reads of the given sizes (then the rest at once). */
function chunkedSource(bytes: Uint8Array, sizes: number[]): ByteSource {
  let at = 0;
  let i = 0;
  return {
    read(p) {
      if (at >= bytes.length) return Promise.resolve(null);
      const want = Math.max(1, sizes[i++] ?? bytes.length);
      const n = Math.min(want, p.length, bytes.length - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

function socketOver(bytes: Uint8Array, sizes: number[], allowMasked = false): UpstreamSocket {
  const conn = { write: () => Promise.resolve(0), close() {} };
  return new UpstreamSocket(conn, new ByteReader(chunkedSource(bytes, sizes), 64), {
    maxMessageBytes: 1 << 20,
    allowMasked,
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function receiveAll(s: UpstreamSocket): Promise<UpstreamMessage[]> {
  const out: UpstreamMessage[] = [];
  for (let m = await s.receive(); m !== null; m = await s.receive()) out.push(m);
  return out;
}

/** Payload lengths around each length encoding's boundaries (7-bit, 16-bit, 64-bit). */
const payloadArb = fc.tuple(
  fc.oneof(
    fc.integer({ min: 0, max: 140 }),
    fc.integer({ min: 65530, max: 65540 }),
    fc.integer({ min: 100_000, max: 100_010 }),
  ),
  fc.integer({ min: 0, max: 255 }),
).map(([length, seed]) => new Uint8Array(length).map((_, i) => (i * 31 + seed) & 0xff));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const maskArb = fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: null });

Deno.test("applyMask() is its own inverse, word by word or byte by byte", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.nat(3),
      (data, mask, offset) => {
        const buf = new Uint8Array(offset + data.length);
        const view = buf.subarray(offset);
        view.set(data);
        applyMask(view, mask);
        for (let i = 0; i < data.length; i++) assert.equal(view[i], data[i] ^ mask[i & 3]);
        applyMask(view, mask);
        assert.deepEqual(view, data);
      },
    ),
  );
});

Deno.test("a binary message sent is received whole, however the bytes are split", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(payloadArb, maskArb), { minLength: 1, maxLength: 4 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 20 }),
      async (messages, sizes) => {
        const wire = concat(messages.map(([p, m]) => encodeFrame(OP.binary, p, m)));
        const got = await receiveAll(socketOver(wire, sizes, true));
        assert.equal(got.length, messages.length);
        got.forEach((m, i) => {
          assert.equal(m.type, "binary");
          assert.ok(m.type === "binary" && sameBytes(m.data, messages[i][0]));
        });
      },
    ),
    { numRuns: 30 },
  );
});

Deno.test("fragments with control frames between them assemble into one text message", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.string({ maxLength: 40 }), { minLength: 2, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 60 }),
      async (pieces, sizes) => {
        const enc = new TextEncoder();
        const frames: Uint8Array[] = [];
        pieces.forEach((piece, i) => {
          const f = encodeFrame(i === 0 ? OP.text : OP.continuation, enc.encode(piece), null);
          if (i < pieces.length - 1) f[0] &= 0x7f; // FIN clear on all but the last
          frames.push(f);
          if (i === 0) frames.push(encodeFrame(OP.ping, enc.encode("p"), null));
        });
        const got = await receiveAll(socketOver(concat(frames), sizes));
        assert.equal(got[0].type, "ping");
        assert.deepEqual(got[1], {
          type: "text",
          data: pieces.join(""),
          bytes: enc.encode(pieces.join("")).length,
        });
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("close payloads round-trip; reasons are cut at a character boundary", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.integer({ min: 1000, max: 1003 }), fc.integer({ min: 3000, max: 4999 })),
      fc.string({ maxLength: 200, unit: "grapheme" }),
      (code, reason) => {
        const info = parseClosePayload(closePayload(code, reason));
        assert.equal(info.code, code);
        assert.ok(reason.startsWith(info.reason));
        assert.ok(new TextEncoder().encode(info.reason).length <= 123);
      },
    ),
  );
  assert.deepEqual(parseClosePayload(closePayload(undefined)), { code: undefined, reason: "" });
  assert.equal(truncateUtf8("ééé", 5).length, 4);
});

Deno.test("parseFrameHeader() refuses what no valid server sends", async (t) => {
  const cases: Array<[string, number[], number]> = [
    ["a reserved opcode", [0x83, 0], 1002],
    ["a fragmented ping", [0x09, 0], 1002],
    ["a control frame over 125 bytes", [0x89, 126, 0, 126], 1002],
    ["a 64-bit length with its top bit set", [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0], 1002],
  ];
  for (const [name, bytes, code] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => parseFrameHeader(new Uint8Array(bytes)),
        (e: unknown) => e instanceof FrameError && e.code === code,
      );
    });
  }
  await t.step("an incomplete header waits for more bytes", () => {
    assert.equal(parseFrameHeader(new Uint8Array([0x82, 126, 1])), null);
  });
});

Deno.test("UpstreamSocket.receive() refuses protocol violations with their close codes", async (t) => {
  const enc = new TextEncoder();
  const cases: Array<[string, Uint8Array, number]> = [
    [
      "a masked frame from the server",
      encodeFrame(OP.text, enc.encode("x"), new Uint8Array(4)),
      1002,
    ],
    ["an RSV bit without an extension", new Uint8Array([0xc1, 1, 0x78]), 1002],
    ["a continuation with no message", encodeFrame(OP.continuation, enc.encode("x"), null), 1002],
    ["text that is not UTF-8", encodeFrame(OP.text, new Uint8Array([0xff, 0xfe]), null), 1007],
    [
      "a close code that may not be sent",
      encodeFrame(OP.close, new Uint8Array([3, 237]), null),
      1002,
    ],
    ["a message over the limit", new Uint8Array([0x82, 127, 0, 0, 0, 0, 0, 0x20, 0, 0]), 1009],
  ];
  for (const [name, bytes, code] of cases) {
    await t.step(name, async () => {
      await assert.rejects(
        () => socketOver(bytes, []).receive(),
        (e: unknown) => e instanceof FrameError && e.code === code,
      );
    });
  }
  await t.step("a new message inside a fragmented one", async () => {
    const first = encodeFrame(OP.text, enc.encode("a"), null);
    first[0] &= 0x7f;
    const wire = concat([first, encodeFrame(OP.text, enc.encode("b"), null)]);
    await assert.rejects(
      () => socketOver(wire, []).receive(),
      (e: unknown) => e instanceof FrameError && e.code === 1002,
    );
  });
});

Deno.test("UpstreamSocket writes masked frames in order and counts what is queued", async () => {
  const written: Uint8Array[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const conn = {
    async write(p: Uint8Array) {
      await gate;
      written.push(p.slice());
      return p.length;
    },
    close() {},
  };
  const s = new UpstreamSocket(conn, new ByteReader(chunkedSource(new Uint8Array(), [])), {
    maxMessageBytes: 1024,
  });
  s.sendText("one");
  s.sendBinary(new Uint8Array([1, 2, 3]));
  s.sendClose(1000, "bye");
  assert.equal(s.bufferedAmount, (2 + 4 + 3) * 2 + (2 + 4 + 5));
  release();
  await s.flushed();
  assert.equal(s.bufferedAmount, 0);
  const reader = socketOver(concat(written), [], true);
  assert.deepEqual(await receiveAll(reader), [
    { type: "text", data: "one", bytes: 3 },
    { type: "binary", data: new Uint8Array([1, 2, 3]) },
    { type: "close", code: 1000, reason: "bye" },
  ]);
  assert.ok(written.every((w) => (w[1] & 0x80) !== 0), "every frame is masked");
});

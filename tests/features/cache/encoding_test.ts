import assert from "node:assert/strict";
import zlib from "node:zlib";
import fc from "fast-check";
import { isCompressible, planFor } from "../../../lib/features/cache/encoding.ts";
import type { StoredEntry } from "../../../lib/features/cache/entry.ts";
import { makeItem, MemoryTier } from "../../../lib/features/cache/memory.ts";
import { Representations } from "../../../lib/features/cache/represent.ts";
import { answer } from "../../../lib/features/cache/respond.ts";
import {
  acceptsCoding,
  type Coding,
  contentCoding,
  normalizeAcceptEncoding,
  parseAcceptEncoding,
} from "../../../lib/platform/http/content_coding.ts";
import { makeTiming } from "./_fixtures.ts";

Deno.test("normalizeAcceptEncoding() keeps three values: br, gzip, identity", () => {
  const table: Array<[string | null, string]> = [
    [null, "identity"],
    ["", "identity"],
    ["gzip, deflate, br, zstd", "br"],
    ["gzip, deflate", "gzip"],
    ["br;q=0, gzip", "gzip"],
    ["gzip;q=0", "identity"],
    ["*", "br"],
    ["*;q=0, gzip", "gzip"],
    ["x-gzip", "gzip"],
    ["BR", "br"],
    ["deflate, zstd", "identity"],
    ["identity", "identity"],
    ["gzip;q=0.001", "gzip"],
    ["gzip;q=bogus", "gzip"],
  ];
  for (const [value, normal] of table) assert.equal(normalizeAcceptEncoding(value), normal, value!);
});

Deno.test("acceptsCoding() follows RFC 9110 §12.5.3", () => {
  const ok = (value: string | null, coding: Coding | null) =>
    acceptsCoding(parseAcceptEncoding(value), coding);
  assert.equal(ok(null, null), true);
  assert.equal(ok(null, "gzip"), false, "no header: identity only");
  assert.equal(ok("gzip", null), true, "identity is acceptable unless refused");
  assert.equal(ok("gzip, identity;q=0", null), false);
  assert.equal(ok("*;q=0", null), false);
  assert.equal(ok("*;q=0, identity", null), true);
  assert.equal(ok("*", "zstd"), true);
  assert.equal(ok("gzip;q=0, *", "gzip"), false, "an explicit q=0 beats *");
  assert.equal(contentCoding("x-gzip"), "gzip");
  assert.equal(contentCoding(" Identity "), null);
  assert.equal(contentCoding("gzip, br"), undefined);
});

Deno.test("isCompressible() picks text and structured text, not media", () => {
  for (
    const type of [
      "text/html; charset=utf-8",
      "text/css",
      "application/json",
      "application/problem+json",
      "application/javascript",
      "image/svg+xml",
      "application/xml",
    ]
  ) assert.ok(isCompressible(type), type);
  for (
    const type of ["image/png", "video/mp4", "application/zip", "text/event-stream", "font/woff2"]
  ) assert.ok(!isCompressible(type), type);
  assert.ok(!isCompressible(null));
});

Deno.test("planFor() never compresses a range, and keeps no-transform bodies as they are", () => {
  const identity = { coding: null, compressible: true, noTransform: false };
  assert.deepEqual(planFor(identity, "gzip, br"), { kind: "encode", to: "br" });
  assert.deepEqual(planFor(identity, "gzip, br", true), { kind: "as-is" });
  const gzip = { coding: "gzip" as const, compressible: true, noTransform: false };
  assert.deepEqual(planFor(gzip, "br", true), { kind: "decode", to: null });
  assert.deepEqual(planFor(gzip, "br"), { kind: "decode", to: "br" });
  assert.deepEqual(planFor({ ...gzip, noTransform: true }, "br"), { kind: "unacceptable" });
  assert.deepEqual(planFor({ ...identity, noTransform: true }, "br"), { kind: "as-is" });
});

const CODINGS: Array<Coding | null> = [null, "gzip", "br", "zstd", "deflate"];

function encode(bytes: Uint8Array, coding: Coding | null): Uint8Array {
  switch (coding) {
    case null:
      return bytes;
    case "gzip":
      return new Uint8Array(zlib.gzipSync(bytes));
    case "br":
      return new Uint8Array(zlib.brotliCompressSync(bytes));
    case "zstd":
      return new Uint8Array(zlib.zstdCompressSync(bytes));
    case "deflate":
      return new Uint8Array(zlib.deflateSync(bytes));
  }
}

/** What a client does with a body: decodes it by its Content-Encoding (node:zlib, not ours). */
function clientDecode(coding: string | null, bytes: Uint8Array): Uint8Array {
  switch (coding) {
    case null:
      return bytes;
    case "gzip":
    case "x-gzip":
      return new Uint8Array(zlib.gunzipSync(bytes));
    case "br":
      return new Uint8Array(zlib.brotliDecompressSync(bytes));
    case "zstd":
      return new Uint8Array(zlib.zstdDecompressSync(bytes));
    case "deflate":
      return new Uint8Array(zlib.inflateSync(bytes));
    default:
      throw new Error(`unknown coding ${coding}`);
  }
}

const acceptEncodingArb = fc.option(
  fc.array(
    fc.tuple(
      fc.constantFrom("gzip", "br", "zstd", "deflate", "identity", "*", "x-gzip", "compress", "BR"),
      fc.option(fc.constantFrom("0", "0.5", "1", "0.001", "1.0"), { nil: undefined }),
    ),
    { maxLength: 5 },
  ).map((parts) => parts.map(([c, q]) => q === undefined ? c : `${c};q=${q}`).join(", ")),
  { nil: null },
);

const bodyArb = fc.oneof(
  fc.string({ maxLength: 3000 }).map((s) => new TextEncoder().encode(`<p>${s.repeat(3)}</p>`)),
  fc.uint8Array({ maxLength: 2000 }),
  // Larger than what is transformed at once: the streaming path.
  fc.constant(new TextEncoder().encode("<html>" + "stream me ".repeat(40_000) + "</html>")),
);

Deno.test("every client gets a body it can decode to the origin's bytes (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...CODINGS),
      bodyArb,
      acceptEncodingArb,
      fc.constantFrom("text/html", "application/json", "image/png"),
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      async (coding, original, acceptEncoding, type, noTransform, held, head) => {
        const stored = encode(original, coding);
        const headers: [string, string][] = [
          ["content-type", type],
          ["etag", '"strong"'],
          ["cache-control", noTransform ? "max-age=60, no-transform" : "max-age=60"],
        ];
        if (coding !== null) headers.push(["content-encoding", coding]);
        const entry: StoredEntry = {
          key: "example.com/x",
          variant: "",
          status: 200,
          headers,
          timing: makeTiming(Date.now()),
          vary: [],
          tags: [],
          size: stored.byteLength,
          version: "v1",
          chunks: 0,
        };
        const memory = new MemoryTier({ maxBytes: 64 * 1024 * 1024 });
        const item = makeItem(entry, stored);
        if (held) memory.setEntry(item);
        const reps = new Representations({
          memory,
          compression: { enabled: true, minBytes: 64 },
        });
        await reps.ready(item, acceptEncoding);
        const picked = reps.pick(item, acceptEncoding);
        const accepted = parseAcceptEncoding(acceptEncoding);
        if (picked.kind === "unacceptable") {
          // Only a no-transform body in a coding the client refuses goes back to the origin.
          assert.ok(noTransform && coding !== null && !acceptsCoding(accepted, coding));
          return;
        }
        const reqHeaders = new Headers(
          acceptEncoding === null ? {} : { "accept-encoding": acceptEncoding },
        );
        const res = answer(picked.item, head, reqHeaders, {
          ageSeconds: 0,
          cacheStatus: "Outpost; hit",
          outcome: "HIT",
          cdn: null,
          transforms: picked.kind === "stream" ? picked.transforms : undefined,
        });
        const sent = res.headers.get("content-encoding");
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (sent !== null) {
          assert.ok(acceptsCoding(accepted, contentCoding(sent)!), `${sent} for ${acceptEncoding}`);
        }
        if (sent !== (coding ?? null)) {
          assert.match(res.headers.get("etag") ?? "", /^W\//, "a transformed body's ETag is weak");
        }
        if (coding !== null || reps.negotiable(item)) {
          assert.match(res.headers.get("vary") ?? "", /Accept-Encoding/);
        }
        if (head) {
          assert.equal(bytes.byteLength, 0);
          const length = res.headers.get("content-length");
          if (length !== null) {
            const full = answer(picked.item, false, reqHeaders, {
              ageSeconds: 0,
              cacheStatus: "Outpost; hit",
              outcome: "HIT",
              cdn: null,
              transforms: picked.kind === "stream" ? picked.transforms : undefined,
            });
            assert.equal(Number(length), (await full.arrayBuffer()).byteLength);
          }
          return;
        }
        assert.deepEqual(clientDecode(sent, bytes), original);
        const length = res.headers.get("content-length");
        if (length !== null) assert.equal(Number(length), bytes.byteLength);
      },
    ),
    { numRuns: 150 },
  );
});

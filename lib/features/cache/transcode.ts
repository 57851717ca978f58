/**
 * The byte side of content codings: decoding a stored body and compressing an identity one,
 * at once (node:zlib, native, for bodies small enough to block the isolate briefly once) or as a
 * stream per response (the web `CompressionStream` / `DecompressionStream`, zstd via node:zlib).
 */

import zlib from "node:zlib";
import { Duplex } from "node:stream";
import type { Coding } from "./encoding.ts";

/** A stream stage that bytes go through. */
export type ByteTransform = ReadableWritablePair<Uint8Array, Uint8Array>;

function stage(stream: GenericTransformStream): ByteTransform {
  return stream as unknown as ByteTransform;
}

/**
 * Brotli quality for the copies the cache keeps: 5 is about gzip's speed and 5-10% smaller;
 * 11 is ~50 times slower for 1-2% more (measured in bench/cache_compression.ts).
 */
const BROTLI_QUALITY = 5;
const GZIP_LEVEL = 6;

/** Compresses an identity body into `coding` (br or gzip) in one go. */
export function encodeSync(bytes: Uint8Array, coding: Coding): Uint8Array {
  switch (coding) {
    case "br":
      return zlib.brotliCompressSync(bytes, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
          [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength,
        },
      });
    case "gzip":
      return zlib.gzipSync(bytes, { level: GZIP_LEVEL });
    case "deflate":
      return zlib.deflateSync(bytes, { level: GZIP_LEVEL });
    case "zstd":
      return zlib.zstdCompressSync(bytes);
  }
}

/**
 * Decodes a stored body in one go: the bytes, `"too-large"` when they would be more than
 * `maxOutput` (a decompression bomb is never held in memory), or `"invalid"`.
 */
export function decodeSync(
  bytes: Uint8Array,
  coding: Coding,
  maxOutput: number,
): Uint8Array | "too-large" | "invalid" {
  const options = { maxOutputLength: Math.max(1, maxOutput) };
  try {
    switch (coding) {
      case "gzip":
        return zlib.gunzipSync(bytes, options);
      case "br":
        return zlib.brotliDecompressSync(bytes, options);
      case "deflate":
        return zlib.inflateSync(bytes, options);
      case "zstd":
        return zlib.zstdDecompressSync(bytes, options);
    }
  } catch (error) {
    return (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? "too-large" : "invalid";
  }
}

/** A stream that decodes `coding`. */
export function decodeStream(coding: Coding): ByteTransform {
  switch (coding) {
    case "gzip":
      return stage(new DecompressionStream("gzip"));
    case "deflate":
      return stage(new DecompressionStream("deflate"));
    case "br":
      return stage(new DecompressionStream("brotli" as CompressionFormat));
    case "zstd":
      return Duplex.toWeb(zlib.createZstdDecompress()) as unknown as ByteTransform;
  }
}

/** A stream that compresses into `coding`. */
export function encodeStream(coding: Coding): ByteTransform {
  switch (coding) {
    case "gzip":
      return stage(new CompressionStream("gzip"));
    case "deflate":
      return stage(new CompressionStream("deflate"));
    case "br":
      return stage(new CompressionStream("brotli" as CompressionFormat));
    case "zstd":
      return Duplex.toWeb(zlib.createZstdCompress()) as unknown as ByteTransform;
  }
}

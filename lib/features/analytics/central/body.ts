/** Reading a summary body that may be gzip-compressed, with limits before and after inflating. */

import { HttpError, readJsonBody } from "../../../platform/http/errors.ts";

/** Limits for {@linkcode readSummaryBody}. */
export interface BodyLimits {
  /** Bytes on the wire. */
  maxCompressedBytes: number;
  /** Bytes once inflated (a small gzip body can inflate enormously). */
  maxBytes: number;
}

function limitStream(
  max: number,
  what: string,
): TransformStream<Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > max) {
        controller.error(
          new HttpError(413, `${what} exceeds ${max} bytes`, { code: "body_too_large" }),
        );
        return;
      }
      controller.enqueue(chunk);
    },
  });
}

/** Parses the JSON body of `req`, inflating it when `Content-Encoding: gzip`. */
export async function readSummaryBody(req: Request, limits: BodyLimits): Promise<unknown> {
  const encoding = (req.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding === "identity") return await readJsonBody(req, limits.maxBytes);
  if (encoding !== "gzip") {
    throw new HttpError(415, `Unsupported Content-Encoding: ${encoding.slice(0, 40)}`, {
      code: "unsupported_encoding",
    });
  }
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limits.maxCompressedBytes) {
    throw new HttpError(413, `Body exceeds ${limits.maxCompressedBytes} bytes: ${declared}`, {
      code: "body_too_large",
    });
  }
  if (!req.body) throw new HttpError(400, "Empty body", { code: "invalid_json" });
  const inflated = (req.body as ReadableStream<Uint8Array<ArrayBuffer>>)
    .pipeThrough(limitStream(limits.maxCompressedBytes, "Compressed body"))
    .pipeThrough(
      new DecompressionStream("gzip") as TransformStream<BufferSource, Uint8Array<ArrayBuffer>>,
    )
    .pipeThrough(limitStream(limits.maxBytes, "Inflated body"));
  const headers = new Headers({ "content-type": req.headers.get("content-type") ?? "" });
  const plain = new Request("http://local/", { method: "POST", body: inflated, headers });
  try {
    return await readJsonBody(plain, limits.maxBytes);
  } catch (error) {
    if (error instanceof HttpError && error.code !== "unreadable_body") throw error;
    throw new HttpError(400, `Body is not valid gzip: ${(error as Error).message}`, {
      code: "invalid_gzip",
    });
  }
}

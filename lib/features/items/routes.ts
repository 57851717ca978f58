/**
 * `/items/:id`: GET from this node's memory or the central copy, PUT and DELETE to
 * the central copy with optimistic concurrency (`If-Match`, `If-None-Match: *`). Every answer
 * carries the item's version as `ETag` and `X-Source: edge | central`.
 */

import { type Context, type Handler, Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../../core/request.ts";
import { HttpError, readJsonBody } from "../../platform/http/errors.ts";
import { jsonResponse } from "../../platform/http/respond.ts";
import { parseInput } from "../../platform/http/validate.ts";
import { CasConflictError } from "../../platform/kv/cas_retry.ts";
import {
  bytes,
  DEFAULT_PROBLEM,
  describedRoutes,
  type HeaderDoc,
  json,
  jsonBody,
  named,
  type ParameterDoc,
  problems,
  type RouteDoc,
} from "../../platform/http/route_doc.ts";
import type { CachedItem } from "./item_cache.ts";
import { MAX_DEPTH, withinDepth } from "./item_schema.ts";
import { PreconditionFailedError, type Preconditions } from "./item_store.ts";
import type { ItemRead, Items } from "./items.ts";

/** What the item routes use. */
export interface ItemRoutesOptions {
  items: Items;
  /** The schema PUT bodies must match. */
  schema: z.ZodType;
  maxBodyBytes: number;
}

const ID = /^[A-Za-z0-9._~-]{1,128}$/;

/** An item id: 1–128 URL-safe characters. */
export const ItemIdSchema = z.string().regex(
  ID,
  "Must be 1-128 letters, digits, '.', '_', '~' or '-'",
);

const STRING = { type: "string" };
const X_SOURCE: HeaderDoc = {
  description: "`edge` (this node's memory) or `central` (the copy in KV)",
  schema: { enum: ["edge", "central"] },
};
const ITEM_HEADERS: Record<string, HeaderDoc> = {
  ETag: { description: "The item's version", schema: STRING },
  "X-Source": X_SOURCE,
};
const BUSY = "`busy`: lost races with other writers; retry";

function header(name: string, description: string): ParameterDoc {
  return { name, in: "header", required: false, description, schema: STRING };
}

const IF_MATCH = header("If-Match", "Write only if the current version matches (or `*`: exists)");

/**
 * The three item operations, for this node's item schema and size limit (the answer's schema
 * loads with the document, not at start-up).
 */
async function itemDocs(
  options: ItemRoutesOptions,
): Promise<Record<"get" | "put" | "delete", RouteDoc>> {
  const { ItemWrittenSchema } = await import("./responses.ts");
  const ItemParams = z.object({ id: ItemIdSchema });
  const item = named("Item", options.schema);
  const written = named("ItemWritten", ItemWrittenSchema);
  return {
    get: {
      operationId: "getItem",
      tags: ["Items"],
      summary: "Read an item from this node (memory, else the central copy)",
      params: ItemParams,
      parameters: [header("If-None-Match", "`304` when a listed version matches")],
      responses: {
        200: json("The stored JSON", item, {
          ...ITEM_HEADERS,
          "Last-Modified": { description: "When it was written", schema: STRING },
        }),
        304: { description: "Not modified", headers: ITEM_HEADERS },
        ...problems({
          400: "`validation_failed`: bad id; `invalid_header`",
          404: "`not_found`: no such item",
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    put: {
      operationId: "putItem",
      tags: ["Items"],
      summary: "Create or replace an item (written to the center)",
      description: "The body must match `data.itemSchema` (the `Item` schema here), be at most " +
        `${bytes(options.maxBodyBytes)} and nest at most ${MAX_DEPTH} levels. Other nodes see ` +
        "the write within `data.maxStalenessMs`.",
      params: ItemParams,
      parameters: [IF_MATCH, header("If-None-Match", "Only `*`: create, never replace")],
      requestBody: jsonBody(item),
      responses: {
        200: json("Replaced", written, ITEM_HEADERS),
        201: json("Created", written, {
          ...ITEM_HEADERS,
          Location: { description: "`/items/<id>`", schema: STRING },
        }),
        ...problems({
          400: "`validation_failed` (with `errors`), `invalid_json`, `too_deep`, `invalid_header`",
          412: "`precondition_failed`: the current version does not match",
          413: "`body_too_large`",
          415: "`unsupported_media_type`",
          503: BUSY,
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    delete: {
      operationId: "deleteItem",
      tags: ["Items"],
      summary: "Delete an item (at the center)",
      params: ItemParams,
      parameters: [IF_MATCH],
      responses: {
        204: { description: "Deleted", headers: { "X-Source": X_SOURCE } },
        ...problems({
          400: "`validation_failed`: bad id; `invalid_header`",
          404: "`not_found`: no such item",
          412: "`precondition_failed`: the current version does not match",
          503: BUSY,
        }),
        default: DEFAULT_PROBLEM,
      },
    },
  };
}

const ETAG_LIST = /^\s*(?:(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"\s*(?:,\s*|$))+$/;

/** Parses `If-Match` / `If-None-Match`: `*` or the listed tags (weak ones marked `W/`). */
function parseEtagHeader(header: string, name: string): "*" | string[] {
  if (header.trim() === "*") return "*";
  if (header.length > 4096 || !ETAG_LIST.test(header)) {
    throw new HttpError(400, `Malformed ${name}: ${header.slice(0, 100)}`, {
      code: "invalid_header",
    });
  }
  return [...header.matchAll(/(W\/)?"([^"]*)"/g)].map((m) => (m[1] ? `W/${m[2]}` : m[2]));
}

function itemHeaders(res: Response, source: string, item: CachedItem | null): Response {
  res.headers.set("x-source", source);
  res.headers.set("cache-control", "no-cache");
  if (item) {
    res.headers.set("etag", `"${item.etag}"`);
    res.headers.set("last-modified", new Date(item.updatedAt!).toUTCString());
  }
  return res;
}

function preconditions(c: Context<AppEnv>, write: boolean): Preconditions {
  const out: Preconditions = {};
  const ifMatch = c.req.header("if-match");
  if (ifMatch !== undefined) {
    const tags = parseEtagHeader(ifMatch, "If-Match");
    // If-Match uses the strong comparison: weak tags never match.
    out.ifMatch = tags === "*" ? "*" : tags.filter((t) => !t.startsWith("W/"));
  }
  const ifNoneMatch = c.req.header("if-none-match");
  if (write && ifNoneMatch !== undefined) {
    if (parseEtagHeader(ifNoneMatch, "If-None-Match") !== "*") {
      throw new HttpError(400, "Only If-None-Match: * is supported on writes", {
        code: "invalid_header",
      });
    }
    out.ifNoneMatch = "*";
  }
  return out;
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PreconditionFailedError) {
      throw new HttpError(412, error.message, { code: "precondition_failed" });
    }
    if (error instanceof CasConflictError) {
      throw new HttpError(503, error.message, { code: "busy", headers: { "retry-after": "1" } });
    }
    throw error;
  }
}

/** Builds the items app, mounted at `/items`. */
export function itemRoutes(options: ItemRoutesOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const api = describedRoutes(app);
  const docs = () => itemDocs(options);
  const { items } = options;
  const idOf = (c: Context<AppEnv>) => parseInput(ItemIdSchema, c.req.param("id"), "item id");

  function answer(c: Context<AppEnv>, id: string, { item, source }: ItemRead): Response {
    if (!item) {
      throw new HttpError(404, `No item: ${id}`, {
        code: "not_found",
        headers: { "x-source": source },
      });
    }
    const inm = c.req.header("if-none-match");
    if (inm !== undefined) {
      const tags = parseEtagHeader(inm, "If-None-Match");
      if (tags === "*" || tags.some((t) => t.replace(/^W\//, "") === item.etag)) {
        return itemHeaders(new Response(null, { status: 304 }), source, item);
      }
    }
    const res = new Response(item.text);
    res.headers.set("content-type", "application/json");
    return itemHeaders(res, source, item);
  }

  // A memory hit is answered synchronously; only a miss waits for KV.
  const getItem: Handler<AppEnv> = (c) => {
    const id = c.req.param("id") ?? "";
    if (!ID.test(id)) idOf(c);
    const hit = items.cached(id);
    if (hit) return answer(c, id, hit);
    return items.get(id).then((read) => answer(c, id, read));
  };
  api.get("/:id", async () => (await docs()).get, getItem);

  api.put("/:id", async () => (await docs()).put, async (c) => {
    const id = idOf(c);
    const pre = preconditions(c, true);
    const body = await readJsonBody(c.req.raw, options.maxBodyBytes);
    if (!withinDepth(body)) {
      throw new HttpError(400, `Item nests deeper than ${MAX_DEPTH} levels`, {
        code: "too_deep",
      });
    }
    const value = parseInput(options.schema, body, "item");
    const text = JSON.stringify(value);
    if (new TextEncoder().encode(text).byteLength > options.maxBodyBytes) {
      throw new HttpError(413, `Item exceeds ${options.maxBodyBytes} bytes`, {
        code: "body_too_large",
      });
    }
    const written = await guarded(() => items.put(id, text, pre));
    const res = jsonResponse(
      { id, version: written.etag, updatedAt: written.updatedAt },
      written.created ? 201 : 200,
      written.created ? { location: `/items/${id}` } : undefined,
    );
    return itemHeaders(res, "central", { ...written, text: null });
  });

  api.delete("/:id", async () => (await docs()).delete, async (c) => {
    const id = idOf(c);
    const deleted = await guarded(() => items.delete(id, preconditions(c, false)));
    if (!deleted) throw new HttpError(404, `No item: ${id}`, { code: "not_found" });
    return itemHeaders(new Response(null, { status: 204 }), "central", null);
  });

  return app;
}

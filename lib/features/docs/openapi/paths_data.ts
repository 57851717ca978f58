/** `/items` and `/crdt` as document operations. */

import { z } from "zod";
import { CrdtNameSchema } from "../../crdt/names.ts";
import { MAX_DEPTH } from "../../items/item_schema.ts";
import { crdtBodySchemas } from "../../crdt/routes.ts";
import { ItemIdSchema } from "../../items/routes.ts";
import { bytes, type DocContext, json, jsonBody, type Operation } from "./operation.ts";
import { DEFAULT_PROBLEM, problems, type ResponseObject } from "./problem.ts";
import {
  CounterSchema,
  ItemWrittenSchema,
  RegisterSchema,
  SetChangeSchema,
  SetSchema,
} from "./responses_data.ts";

const STRING = { type: "string" };
const X_SOURCE = {
  description: "`edge` (this node's memory) or `central` (the copy in KV)",
  schema: { enum: ["edge", "central"] },
};
const ITEM_HEADERS: ResponseObject["headers"] = {
  ETag: { description: "The item's version", schema: STRING },
  "X-Source": X_SOURCE,
};
const BUSY = "`busy`: lost races with other writers; retry";

function header(name: string, description: string) {
  return { name, in: "header" as const, required: false, description, schema: STRING };
}

function itemOperations({ book, config, itemSchema }: DocContext): Operation[] {
  const parameters = book.parameters("path", z.object({ id: ItemIdSchema }));
  const item = book.ref("Item", itemSchema);
  const ifMatch = header("If-Match", "Write only if the current version matches (or `*`: exists)");
  return [
    {
      method: "get",
      path: "/items/{id}",
      operationId: "getItem",
      tags: ["Items"],
      summary: "Read an item from this node (memory, else the central copy)",
      parameters: [...parameters, header("If-None-Match", "`304` when a listed version matches")],
      responses: {
        200: json("The stored JSON", item, {
          headers: {
            ...ITEM_HEADERS,
            "Last-Modified": { description: "When it was written", schema: STRING },
          },
        }),
        304: { description: "Not modified", headers: ITEM_HEADERS },
        ...problems({
          400: "`validation_failed`: bad id; `invalid_header`",
          404: "`not_found`: no such item",
        }),
        default: DEFAULT_PROBLEM,
      },
    },
    {
      method: "put",
      path: "/items/{id}",
      operationId: "putItem",
      tags: ["Items"],
      summary: "Create or replace an item (written to the center)",
      description: `The body must match \`data.itemSchema\` (\`${config.data.itemSchema}\`), be ` +
        `at most ${bytes(config.data.maxBodyBytes)} and nest at most ${MAX_DEPTH} levels. ` +
        "Other nodes see the write within `data.maxStalenessMs` " +
        `(${config.data.maxStalenessMs} ms).`,
      parameters: [
        ...parameters,
        ifMatch,
        header("If-None-Match", "Only `*`: create, never replace"),
      ],
      requestBody: jsonBody(item),
      responses: {
        200: json("Replaced", book.ref("ItemWritten", ItemWrittenSchema), {
          headers: ITEM_HEADERS,
        }),
        201: json("Created", book.ref("ItemWritten", ItemWrittenSchema), {
          headers: { ...ITEM_HEADERS, Location: { description: "`/items/<id>`", schema: STRING } },
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
    {
      method: "delete",
      path: "/items/{id}",
      operationId: "deleteItem",
      tags: ["Items"],
      summary: "Delete an item (at the center)",
      parameters: [...parameters, ifMatch],
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
  ];
}

function crdtOperations({ book, config }: DocContext): Operation[] {
  const { StepSchema, ElementBodySchema, RegisterBodySchema, SetQuery } = crdtBodySchemas(
    config.crdt,
  );
  const parameters = book.parameters("path", z.object({ name: CrdtNameSchema }));
  const counter = book.ref("Counter", CounterSchema);
  const setChange = book.ref("SetChange", SetChangeSchema);
  const register = book.ref("Register", RegisterSchema);
  const writeProblems = (extra: Record<number, string> = {}) =>
    problems({
      400: "`validation_failed` (with `errors`), `invalid_json`, `too_deep`",
      409: "`limit_reached`: a full set, or a counter slot at 2^52",
      413: "`body_too_large`",
      415: "`unsupported_media_type`",
      503: BUSY,
      ...extra,
    });
  const read = problems({ 400: "`validation_failed`: bad name" });
  const op = (o: Omit<Operation, "tags">): Operation => ({
    ...o,
    tags: ["CRDT"],
    parameters: [...parameters, ...(o.parameters ?? [])],
    responses: { ...o.responses, default: DEFAULT_PROBLEM },
  });
  const step = book.ref("CounterStep", StepSchema);
  const element = book.ref("SetElement", ElementBodySchema);
  return [
    ...(["increment", "decrement"] as const).map((verb) =>
      op({
        method: "post",
        path: `/crdt/counters/{name}/${verb}`,
        operationId: `${verb}Counter`,
        summary: `${verb === "increment" ? "Increment" : "Decrement"} a PN-counter`,
        description: `\`by\`: 1 to \`crdt.maxStep\` (${config.crdt.maxStep}), default 1. ` +
          "The body is optional: none at all is a step of 1.",
        requestBody: jsonBody(step, undefined, { required: false }),
        responses: { 200: json("The counter", counter), ...writeProblems() },
      })
    ),
    op({
      method: "get",
      path: "/crdt/counters/{name}",
      operationId: "getCounter",
      summary: "Read a counter (0 when never touched)",
      responses: { 200: json("The counter", counter), ...read },
    }),
    ...(["add", "remove"] as const).map((verb) =>
      op({
        method: "post",
        path: `/crdt/sets/{name}/${verb}`,
        operationId: verb === "add" ? "addToSet" : "removeFromSet",
        summary: `${verb === "add" ? "Add an element to" : "Remove an element from"} an OR-Set`,
        description: "Elements: 1-256 characters of well-formed text, no control characters.",
        requestBody: jsonBody(element),
        responses: { 200: json("What changed", setChange), ...writeProblems() },
      })
    ),
    op({
      method: "get",
      path: "/crdt/sets/{name}",
      operationId: "getSet",
      summary: "Read a set's elements",
      description: "The whole set, or with `limit` and/or `after` one page of it: up to `limit` " +
        "(default 1000) elements after `after`, and `next_after` to pass back for the next page " +
        "(null on the last).",
      parameters: book.parameters("query", SetQuery, {
        limit: "Elements per page (1-10000)",
        after: "Start after this element (the previous page's `next_after`)",
      }),
      responses: { 200: json("The set, or one page of it", book.ref("Set", SetSchema)), ...read },
    }),
    op({
      method: "put",
      path: "/crdt/registers/{name}",
      operationId: "writeRegister",
      summary: "Write a last-writer-wins register",
      description: `\`value\`: any JSON of at most \`crdt.maxRegisterBytes\` ` +
        `(${bytes(config.crdt.maxRegisterBytes)}).`,
      requestBody: jsonBody(book.ref("RegisterWrite", RegisterBodySchema)),
      responses: {
        200: json("The register", register),
        ...writeProblems({ 413: "`value_too_large`, `body_too_large`" }),
      },
    }),
    op({
      method: "get",
      path: "/crdt/registers/{name}",
      operationId: "getRegister",
      summary: "Read a register",
      responses: {
        200: json("The register", register),
        ...problems({ 400: "`validation_failed`: bad name", 404: "`not_found`: never written" }),
      },
    }),
  ];
}

/** Operations under `/items` and `/crdt`. */
export function dataOperations(ctx: DocContext): Operation[] {
  return [...itemOperations(ctx), ...crdtOperations(ctx)];
}

/**
 * `/crdt/*`: counters, sets and registers replicated between nodes. Writes apply to this
 * node's replica at once and reach the other nodes through anti-entropy.
 */

import { type Context, Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../../core/request.ts";
import { CrdtNameSchema, ElementSchema } from "./names.ts";
import { type PNCounter, pncounterReplicas, pncounterValue } from "./pncounter.ts";
import { jsonBytes } from "./register_store.ts";
import { CrdtLimitError } from "./store_context.ts";
import type { CrdtStore } from "./store.ts";
import { HttpError, readJsonBody, type ReadJsonOptions } from "../../platform/http/errors.ts";
import { jsonResponse } from "../../platform/http/respond.ts";
import { parseInput } from "../../platform/http/validate.ts";
import { CasConflictError } from "../../platform/kv/cas_retry.ts";
import { MAX_DEPTH, withinDepth } from "../items/item_schema.ts";
import {
  bytes,
  DEFAULT_PROBLEM,
  describedRoutes,
  json,
  jsonBody,
  named,
  problems,
  type ResponseDoc,
  type RouteDoc,
} from "../../platform/http/route_doc.ts";

/** What the CRDT routes use. */
export interface CrdtRoutesOptions {
  store: () => Promise<CrdtStore>;
  maxStep: number;
  maxRegisterBytes: number;
}

const NO_STORE = { "cache-control": "no-store" };
/** Bodies here are small: a step, an element or a register value. */
const BODY_SLACK = 1024;

function counterBody(name: string, state: PNCounter) {
  return { name, value: pncounterValue(state), replicas: pncounterReplicas(state) };
}

/** Maps store errors to problems: limits are 409, lost races after retries 503. */
async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof CrdtLimitError) {
      throw new HttpError(409, error.message, { code: "limit_reached" });
    }
    if (error instanceof CasConflictError) {
      throw new HttpError(503, error.message, { code: "busy", headers: { "retry-after": "1" } });
    }
    throw error;
  }
}

/** The request bodies of `/crdt/*` under the configured limits (also used by the API docs). */
export function crdtBodySchemas(limits: { maxStep: number }) {
  return {
    StepSchema: z.strictObject({ by: z.number().int().min(1).max(limits.maxStep).default(1) }),
    ElementBodySchema: z.strictObject({ element: ElementSchema }),
    RegisterBodySchema: z.strictObject({ value: z.json() }),
    /** Paging of `GET /crdt/sets/:name`; without both, the whole set. */
    SetQuery: z.object({
      limit: z.coerce.number().int().min(1).max(10_000).optional(),
      after: ElementSchema.optional(),
    }),
  };
}

const BUSY = "`busy`: lost races with other writers; retry";

/**
 * The CRDT operations under this node's limits, from the schemas the routes validate with (the
 * answers' schemas load with the document, not at start-up).
 */
async function crdtDocs(options: CrdtRoutesOptions, schemas: ReturnType<typeof crdtBodySchemas>) {
  const { CounterSchema, RegisterSchema, SetChangeSchema, SetSchema } = await import(
    "./responses.ts"
  );
  const { StepSchema, ElementBodySchema, RegisterBodySchema, SetQuery } = schemas;
  const NameParams = z.object({ name: CrdtNameSchema });
  const counter = named("Counter", CounterSchema);
  const setChange = named("SetChange", SetChangeSchema);
  const register = named("Register", RegisterSchema);
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
  const op = (
    o: Omit<RouteDoc, "tags" | "responses"> & { responses: Record<string, ResponseDoc> },
  ) =>
    ({
      ...o,
      tags: ["CRDT"],
      params: NameParams,
      responses: { ...o.responses, default: DEFAULT_PROBLEM },
    }) satisfies RouteDoc;
  const step = (verb: "increment" | "decrement") =>
    op({
      operationId: `${verb}Counter`,
      summary: `${verb === "increment" ? "Increment" : "Decrement"} a PN-counter`,
      description: `\`by\`: 1 to \`crdt.maxStep\` (${options.maxStep}), default 1. ` +
        "The body is optional: none at all is a step of 1.",
      requestBody: jsonBody(named("CounterStep", StepSchema), undefined, { required: false }),
      responses: { 200: json("The counter", counter), ...writeProblems() },
    });
  const change = (verb: "add" | "remove") =>
    op({
      operationId: verb === "add" ? "addToSet" : "removeFromSet",
      summary: `${verb === "add" ? "Add an element to" : "Remove an element from"} an OR-Set`,
      description: "Elements: 1-256 characters of well-formed text, no control characters.",
      requestBody: jsonBody(named("SetElement", ElementBodySchema)),
      responses: { 200: json("What changed", setChange), ...writeProblems() },
    });
  return {
    increment: step("increment"),
    decrement: step("decrement"),
    counter: op({
      operationId: "getCounter",
      summary: "Read a counter (0 when never touched)",
      responses: { 200: json("The counter", counter), ...read },
    }),
    add: change("add"),
    remove: change("remove"),
    set: op({
      operationId: "getSet",
      summary: "Read a set's elements",
      description: "The whole set, or with `limit` and/or `after` one page of it: up to " +
        "`limit` (default 1000) elements after `after`, and `next_after` to pass back for the " +
        "next page (null on the last).",
      query: SetQuery,
      describe: {
        limit: "Elements per page (1-10000)",
        after: "Start after this element (the previous page's `next_after`)",
      },
      responses: { 200: json("The set, or one page of it", named("Set", SetSchema)), ...read },
    }),
    writeRegister: op({
      operationId: "writeRegister",
      summary: "Write a last-writer-wins register",
      description: "`value`: any JSON of at most `crdt.maxRegisterBytes` " +
        `(${bytes(options.maxRegisterBytes)}).`,
      requestBody: jsonBody(named("RegisterWrite", RegisterBodySchema)),
      responses: {
        200: json("The register", register),
        ...writeProblems({ 413: "`value_too_large`, `body_too_large`" }),
      },
    }),
    register: op({
      operationId: "getRegister",
      summary: "Read a register",
      responses: {
        200: json("The register", register),
        ...problems({ 400: "`validation_failed`: bad name", 404: "`not_found`: never written" }),
      },
    }),
  };
}

/** Builds the CRDT app, mounted at `/crdt`. */
export function crdtRoutes(options: CrdtRoutesOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const api = describedRoutes(app);
  const { StepSchema, ElementBodySchema, RegisterBodySchema, SetQuery } = crdtBodySchemas(options);
  // Made when the document is built, from the schemas these routes validate with.
  const docs = () =>
    crdtDocs(options, { StepSchema, ElementBodySchema, RegisterBodySchema, SetQuery });

  const nameOf = (c: Context<AppEnv>) => parseInput(CrdtNameSchema, c.req.param("name"), "name");
  const body = async (c: Context<AppEnv>, max = BODY_SLACK, options: ReadJsonOptions = {}) => {
    const value = await readJsonBody(c.req.raw, max, options);
    // zod walks JSON recursively: refuse pathological nesting before it does.
    if (!withinDepth(value, MAX_DEPTH + 1)) {
      throw new HttpError(400, `Body nests deeper than ${MAX_DEPTH} levels`, { code: "too_deep" });
    }
    return value;
  };

  for (const op of ["increment", "decrement"] as const) {
    api.post(`/counters/:name/${op}`, async () => (await docs())[op], async (c) => {
      const name = nameOf(c);
      // No body at all is a step of the default size (`curl -X POST …/increment`).
      const step = await body(c, BODY_SLACK, { empty: {} });
      const { by } = parseInput(StepSchema, step, "step");
      const store = await options.store();
      const state = await guarded(() =>
        op === "increment" ? store.increment(name, by) : store.decrement(name, by)
      );
      return jsonResponse(counterBody(name, state), 200, NO_STORE);
    });
  }

  api.get("/counters/:name", async () => (await docs()).counter, async (c) => {
    const name = nameOf(c);
    const store = await options.store();
    return jsonResponse(counterBody(name, await store.counter(name)), 200, NO_STORE);
  });

  api.post("/sets/:name/add", async () => (await docs()).add, async (c) => {
    const name = nameOf(c);
    const { element } = parseInput(ElementBodySchema, await body(c), "element");
    const store = await options.store();
    const changed = await guarded(() => store.add(name, element));
    return jsonResponse({ name, element, present: true, changed }, 200, NO_STORE);
  });

  api.post("/sets/:name/remove", async () => (await docs()).remove, async (c) => {
    const name = nameOf(c);
    const { element } = parseInput(ElementBodySchema, await body(c), "element");
    const store = await options.store();
    const changed = await guarded(() => store.remove(name, element));
    return jsonResponse({ name, element, present: false, changed }, 200, NO_STORE);
  });

  api.get("/sets/:name", async () => (await docs()).set, async (c) => {
    const name = nameOf(c);
    const query = parseInput(SetQuery, c.req.query(), "query");
    const store = await options.store();
    if (query.limit === undefined && query.after === undefined) {
      const elements = await store.elements(name);
      return jsonResponse({ name, elements, size: elements.length }, 200, NO_STORE);
    }
    const limit = query.limit ?? 1000;
    const page = await store.elementPage(name, query.after ?? null, limit);
    const last = page.elements.at(-1);
    const nextAfter = page.more && last !== undefined ? last : null;
    return jsonResponse({ name, elements: page.elements, next_after: nextAfter }, 200, NO_STORE);
  });

  api.put("/registers/:name", async () => (await docs()).writeRegister, async (c) => {
    const name = nameOf(c);
    const raw = await body(c, options.maxRegisterBytes + BODY_SLACK);
    const { value } = parseInput(RegisterBodySchema, raw, "register");
    if (jsonBytes(value) > options.maxRegisterBytes) {
      throw new HttpError(413, `Value exceeds ${options.maxRegisterBytes} bytes`, {
        code: "value_too_large",
      });
    }
    const store = await options.store();
    const reg = await guarded(() => store.write(name, value));
    return jsonResponse({ name, value: reg.value, timestamp: reg.ts }, 200, NO_STORE);
  });

  api.get("/registers/:name", async () => (await docs()).register, async (c) => {
    const name = nameOf(c);
    const reg = await (await options.store()).register(name);
    if (!reg) throw new HttpError(404, `Register never written: ${name}`, { code: "not_found" });
    return jsonResponse({ name, value: reg.value, timestamp: reg.ts }, 200, NO_STORE);
  });

  return app;
}

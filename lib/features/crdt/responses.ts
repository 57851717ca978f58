/**
 * What `/crdt/*` and `GET /_edge/sync` answer, as zod schemas: the routes' descriptions name them
 * (loaded with the API document, not at start-up) and tests parse live answers with them.
 */

import { z } from "zod";
import { HlcWireSchema } from "./wire.ts";

const Count = z.number().int().min(0);

/** `/crdt/counters/:name` and its increments and decrements. */
export const CounterSchema = z.object({
  name: z.string(),
  value: z.number().int(),
  replicas: z.record(z.string(), z.object({ p: Count, n: Count }))
    .describe("Increments (p) and decrements (n) by replica"),
});

/** `POST /crdt/sets/:name/add` and `/remove`. */
export const SetChangeSchema = z.object({
  name: z.string(),
  element: z.string(),
  present: z.boolean(),
  changed: z.boolean().describe("False when the set already was that way"),
});

/** `GET /crdt/sets/:name`. */
export const SetSchema = z.object({
  name: z.string(),
  elements: z.array(z.string()).describe("By code point"),
  size: Count.optional().describe("The whole set's size (absent on a page)"),
  next_after: z.string().nullable().optional().describe(
    "On a page: the `after` of the next page; null on the last",
  ),
});

/** `/crdt/registers/:name`. */
export const RegisterSchema = z.object({
  name: z.string(),
  value: z.json(),
  timestamp: HlcWireSchema,
});

/** `GET /_edge/sync`: this replica and its peers' progress. */
export const SyncStatusSchema = z.object({
  replica: z.string(),
  kvId: z.string(),
  peers: z.array(z.object({
    url: z.string(),
    cursor: z.number().nullable(),
    lastFullAt: z.number().nullable(),
    lastOkAt: z.number().nullable(),
    peerReplica: z.string().nullable(),
    peerKvId: z.string().nullable(),
    failures: Count,
    lastError: z.string().nullable(),
    nextAttemptAt: z.number().nullable(),
    self: z.boolean(),
  })),
});

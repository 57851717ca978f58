/**
 * The summary an edge sends to the collector for one closed interval: counts per event type and
 * per (user, event type), built from the interval's frozen aggregate. The same zod schema is used
 * by the collector to validate what it receives, so both sides agree on the wire format.
 */

import { z } from "zod";
import { EventTypeSchema, UserIdSchema } from "./event_schema.ts";
import { aggregatePrefix } from "./keys.ts";

const Count = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** The edge id: `<region>/<node>`. */
const EdgeIdSchema = z.string().regex(
  /^[a-z0-9-]{1,32}\/[A-Za-z0-9._-]{1,64}$/,
  "Must be <region>/<node>",
);

/** The wire format of a summary (`POST /_central/summary`, gzip-compressed JSON). */
export const SummarySchema = z.strictObject({
  v: z.literal(1),
  edge_id: EdgeIdSchema,
  interval: z.strictObject({
    start: z.number().int().min(0),
    end: z.number().int().min(0),
  }).refine((i) => i.end > i.start, "end must be after start"),
  total_events: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  counts: z.strictObject({
    by_event_type: z.record(EventTypeSchema, Count),
    by_user: z.record(UserIdSchema, z.record(EventTypeSchema, Count)),
  }),
}).superRefine((s, ctx) => {
  let byType = 0;
  for (const n of Object.values(s.counts.by_event_type)) byType += n;
  let byUser = 0;
  for (const counts of Object.values(s.counts.by_user)) {
    for (const n of Object.values(counts)) byUser += n;
  }
  if (byType !== s.total_events || byUser !== s.total_events) {
    ctx.addIssue({
      code: "custom",
      path: ["total_events"],
      message:
        `Counts do not add up: total ${s.total_events}, by type ${byType}, by user ${byUser}`,
    });
  }
});

/** A summary. */
export type Summary = z.infer<typeof SummarySchema>;

/** Reads one interval's aggregate from KV into a summary. */
export async function buildSummary(
  kv: Deno.Kv,
  edge: string,
  interval: { start: number; end: number },
): Promise<Summary> {
  const byType: Record<string, number> = {};
  let total = 0;
  for await (
    const e of kv.list<Deno.KvU64>({ prefix: aggregatePrefix(edge, interval.start, "type") })
  ) {
    const n = Number(e.value.value);
    if (n <= 0) continue;
    byType[e.key[5] as string] = n;
    total += n;
  }
  const byUser: Record<string, Record<string, number>> = {};
  for await (
    const e of kv.list<Deno.KvU64>({ prefix: aggregatePrefix(edge, interval.start, "user") })
  ) {
    const n = Number(e.value.value);
    if (n <= 0) continue;
    const type = e.key[5] as string;
    const user = e.key[6] as string;
    (byUser[user] ??= {})[type] = n;
  }
  return {
    v: 1,
    edge_id: edge,
    interval,
    total_events: total,
    counts: { by_event_type: byType, by_user: byUser },
  };
}

/** JSON then gzip: the body of a summary POST. */
export async function gzipJson(value: unknown): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([JSON.stringify(value)]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * What `/events`, `/_edge/analytics/flush` and `/_central` answer, as zod schemas: the routes'
 * descriptions name them (the API document) and tests parse live answers with them.
 */

import { z } from "zod";

const Count = z.number().int().min(0);
const Counts = z.record(z.string(), Count);

const IssueSchema = z.object({
  index: z.number().int().min(0).nullable().describe("The event; null for the batch"),
  path: z.string(),
  message: z.string(),
});

/** `POST /events`. */
export const EventsAcceptedSchema = z.object({
  accepted: Count,
  rejected: z.array(IssueSchema).optional().describe("With `?partial=true`: what was refused"),
});

/** `GET /events/users/:id`. */
export const UserEventsSchema = z.object({
  user_id: z.string(),
  since: z.iso.datetime(),
  events: z.array(z.object({
    id: z.string(),
    event_type: z.string(),
    timestamp: z.iso.datetime(),
    received_at: z.iso.datetime(),
    properties: z.record(z.string(), z.json()).optional(),
  })),
  next_cursor: z.string().nullable().describe("Pass back as `cursor` for the next page"),
});

/** `GET /events/counts`. */
export const EventCountsSchema = z.object({
  edge_id: z.string(),
  minutes: z.number().int(),
  by_event_type: Counts,
  total_events: Count,
  truncated: z.boolean(),
});

/** `GET /events/bandwidth`. */
export const BandwidthSchema = z.object({
  edge_id: z.string(),
  events_received: Count,
  received_bytes: Count,
  summaries_delivered: Count,
  sent_bytes: Count,
  reduction: z.number().nullable().describe("received / sent; null before anything was sent"),
});

/** `POST /_edge/analytics/flush`. */
export const FlushReportSchema = z.object({
  closed: Count.describe("Intervals closed into the outbox, the running one included"),
  delivered: Count.describe("Summaries the collector accepted"),
  failed: Count.describe("Summaries that failed (kept, retried by the flush job)"),
  pending: Count.describe("Summaries still in the outbox after this flush"),
});

/** `POST /_central/summary`. */
export const SummaryAppliedSchema = z.object({
  status: z.enum(["applied", "duplicate"]),
  total_events: Count,
  idempotency_key: z.string(),
});

/** `GET /_central/stats`. */
export const CentralStatsSchema = z.object({
  total_events: Count,
  summaries: Count,
  by_event_type: Counts,
  by_edge: Counts,
  intervals: z.array(z.object({
    start: z.iso.datetime(),
    start_ms: z.number(),
    total_events: Count,
    by_event_type: Counts,
    by_edge: Counts,
  })).describe("Newest first"),
});

/** `GET /_central/users/:id`. */
export const CentralUserSchema = z.object({
  user_id: z.string(),
  total_events: Count,
  by_event_type: Counts,
});

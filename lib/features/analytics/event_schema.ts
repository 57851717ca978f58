/**
 * What `POST /events` accepts: one event or `{ "events": [...] }`, each checked with zod
 * (charset and length of ids, timestamps not far in the future nor past retention, property
 * objects bounded in size, depth and keys). Reasons are reported per event index.
 */

import { z } from "zod";

/** A JSON value inside `properties`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | {
  [key: string]: JsonValue;
};

/** One validated event, its timestamp in epoch milliseconds. */
export interface AnalyticsEvent {
  user_id: string;
  event_type: string;
  timestamp: number;
  properties?: Record<string, JsonValue>;
}

/** Limits applied to incoming events. */
export interface EventLimits {
  maxBatchEvents: number;
  maxFutureMs: number;
  retentionMs: number;
  properties: { maxBytes: number; maxDepth: number; maxKeys: number };
}

/** One reason an event (or the batch, index `null`) was refused. */
export interface EventIssue {
  index: number | null;
  path: string;
  message: string;
}

/** A user id: 1-128 of letters, digits and `._:@+|-`. */
export const UserIdSchema = z.string().min(1).max(128).regex(
  /^[A-Za-z0-9._:@+|-]+$/,
  "Must be 1-128 of A-Za-z0-9._:@+|-",
).refine((s) => s !== "__proto__", "Reserved: __proto__");

/** An event type: 1-64 of letters, digits and `_.:-`. */
export const EventTypeSchema = z.string().regex(
  /^[A-Za-z0-9_.:-]{1,64}$/,
  "Must be 1-64 of A-Za-z0-9_.:-",
).refine((s) => s !== "__proto__", "Reserved: __proto__");

const MAX_KEY_LENGTH = 128;

/** Why `value` is not a bounded JSON object, or null when it is. */
export function propertiesProblem(
  value: Record<string, unknown>,
  limits: EventLimits["properties"],
): string | null {
  let keys = 0;
  function walk(v: unknown, depth: number): string | null {
    if (v === null || typeof v === "string" || typeof v === "boolean") return null;
    if (typeof v === "number") return Number.isFinite(v) ? null : "Numbers must be finite";
    if (typeof v !== "object") return `Not a JSON value: ${typeof v}`;
    if (depth > limits.maxDepth) return `Nested deeper than ${limits.maxDepth} levels`;
    if (Array.isArray(v)) {
      for (const item of v) {
        const problem = walk(item, depth + 1);
        if (problem) return problem;
      }
      return null;
    }
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
      if (++keys > limits.maxKeys) return `More than ${limits.maxKeys} keys`;
      if (k.length > MAX_KEY_LENGTH) return `Key longer than ${MAX_KEY_LENGTH} characters`;
      if (k === "__proto__") return "Reserved key: __proto__";
      const problem = walk(item, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  const problem = walk(value, 1);
  if (problem) return problem;
  const bytes = new TextEncoder().encode(JSON.stringify(value)).byteLength;
  return bytes > limits.maxBytes ? `Larger than ${limits.maxBytes} bytes: ${bytes}` : null;
}

/** The zod schema of one event, judged against `now()` when parsed. */
function eventSchema(limits: EventLimits, now: () => number) {
  const timestamp = z.union([
    z.number().int("Must be integer milliseconds since the epoch").min(0),
    z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
  ], { error: "Must be epoch milliseconds or an ISO 8601 date-time" }).superRefine((ms, ctx) => {
    if (!Number.isInteger(ms) || ms < 0) return; // already reported
    const t = now();
    if (ms > t + limits.maxFutureMs) {
      ctx.addIssue({
        code: "custom",
        message: `More than ${limits.maxFutureMs / 1000} s in the future: ${
          new Date(Math.min(ms, 8.64e15)).toISOString()
        }`,
      });
    } else if (ms <= t - limits.retentionMs) {
      ctx.addIssue({
        code: "custom",
        message: `Older than the retention of ${Math.round(limits.retentionMs / 60_000)} min: ${
          new Date(ms).toISOString()
        }`,
      });
    }
  });
  const properties = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    const problem = propertiesProblem(value, limits.properties);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
  return z.strictObject({
    user_id: UserIdSchema,
    event_type: EventTypeSchema,
    timestamp: timestamp.optional(),
    properties: properties.optional(),
  });
}

/**
 * The whole body of `POST /events` as one schema: an event, or `{ "events": [...] }` with 1 to
 * `maxBatchEvents` of them. {@linkcode validateEvents} checks the same shape step by step so that
 * it can report (and, with `?partial`, keep) events by index; the API docs state this schema.
 */
export function eventsBodySchema(limits: EventLimits, now: () => number) {
  const event = eventSchema(limits, now);
  return z.union([
    event,
    z.strictObject({ events: z.array(event).min(1).max(limits.maxBatchEvents) }),
  ]);
}

/** The result of {@linkcode validateEvents}: valid events by their index, and the issues. */
export interface ValidationResult {
  events: Array<{ index: number; event: AnalyticsEvent }>;
  issues: EventIssue[];
  /** True when the body was one event rather than a batch. */
  single: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Splits a request body into valid events and per-index issues. */
export function validateEvents(
  body: unknown,
  limits: EventLimits,
  now: () => number,
): ValidationResult {
  const single = isRecord(body) && !("events" in body);
  let items: unknown[];
  if (single) items = [body];
  else if (isRecord(body) && Array.isArray(body.events)) items = body.events;
  else {
    const message = isRecord(body)
      ? "Must be an array of events"
      : 'Expected an event object or { "events": [...] }';
    return { events: [], issues: [{ index: null, path: "events", message }], single: false };
  }
  if (!single) {
    const extra = Object.keys(body as object).filter((k) => k !== "events");
    if (extra.length > 0) {
      const message = `Unrecognized key: ${extra[0].slice(0, 64)}`;
      return { events: [], issues: [{ index: null, path: "(root)", message }], single };
    }
  }
  if (items.length === 0 || items.length > limits.maxBatchEvents) {
    const message = items.length === 0
      ? "Must hold at least one event"
      : `More than ${limits.maxBatchEvents} events: ${items.length}`;
    return { events: [], issues: [{ index: null, path: "events", message }], single };
  }
  const schema = eventSchema(limits, now);
  const events: ValidationResult["events"] = [];
  const issues: EventIssue[] = [];
  const t = now();
  items.forEach((item, index) => {
    const result = schema.safeParse(item);
    if (!result.success) {
      for (const issue of result.error.issues) {
        issues.push({
          index,
          path: issue.path.map(String).join(".") || "(root)",
          message: issue.message,
        });
      }
      return;
    }
    const { user_id, event_type, timestamp, properties } = result.data;
    const event: AnalyticsEvent = { user_id, event_type, timestamp: timestamp ?? t };
    if (properties !== undefined) event.properties = properties as Record<string, JsonValue>;
    events.push({ index, event });
  });
  return { events, issues, single };
}

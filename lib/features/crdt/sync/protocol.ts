/**
 * The anti-entropy wire protocol (`POST /_edge/sync`, version 1). A payload carries objects:
 * counters and registers whole (they are small), sets either as a named delta (joined op
 * deltas) or as one chunk of the full state covering an element-key range. Everything is
 * validated before anything is merged: a payload is accepted whole or rejected whole.
 */

import { z } from "zod";
import { ClockDriftError, type HybridClock } from "../hlc.ts";
import type { LwwRegister } from "../lww.ts";
import { CrdtNameSchema, ElementSchema, ReplicaIdSchema } from "../names.ts";
import type { OrSet } from "../orset.ts";
import type { PNCounter } from "../pncounter.ts";
import { jsonBytes } from "../register_store.ts";
import type { SetChunk } from "../set_kv.ts";
import {
  lwwToWire,
  LwwWireSchema,
  orsetToWire,
  OrSetWireSchema,
  pncounterToWire,
  PNCounterWireSchema,
} from "../wire.ts";

/** The protocol version. */
export const SYNC_VERSION = 1;

const RangeSchema = z.object({
  from: ElementSchema.nullable(),
  to: ElementSchema.nullable(),
  final: z.boolean(),
}).refine((r) => r.final === (r.to === null), {
  message: "The final chunk, and only it, has no upper bound",
}).refine((r) => r.from === null || r.to === null || compareCodePoints(r.from, r.to) < 0, {
  message: "Empty range",
});

const SyncObjectSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("counter"), name: CrdtNameSchema, state: PNCounterWireSchema }),
  z.object({
    type: z.literal("set"),
    name: CrdtNameSchema,
    state: OrSetWireSchema,
    /** Present for a full-state chunk; absent for a delta. */
    range: RangeSchema.optional(),
  }),
  z.object({ type: z.literal("register"), name: CrdtNameSchema, state: LwwWireSchema }),
]);

/** A sync request body. */
export const SyncPayloadSchema = z.object({
  v: z.literal(SYNC_VERSION, {
    error: (issue) => `Unsupported sync version: ${JSON.stringify(issue.input)}`,
  }),
  kind: z.enum(["delta", "full"]),
  from: z.object({ replica: ReplicaIdSchema, kvId: z.string().regex(/^[0-9a-f]{12}$/) }),
  objects: z.array(SyncObjectSchema).max(10_000),
});

/** A parsed sync request. */
export type SyncPayload = z.output<typeof SyncPayloadSchema>;

/** The receiver's answer. */
export const SyncAckSchema = z.object({
  v: z.literal(SYNC_VERSION),
  replica: ReplicaIdSchema,
  kvId: z.string(),
  changed: z.number().int().min(0),
  /** True when the payload came from this very replica (a peer list that includes itself). */
  self: z.boolean().optional(),
});

/** A parsed answer. */
export type SyncAck = z.output<typeof SyncAckSchema>;

/** Compares strings by code point, the order Deno KV sorts string key parts in. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** A semantic problem with an otherwise well-formed payload (answered 400). */
export interface SemanticIssue {
  path: string;
  message: string;
}

/**
 * Checks what zod cannot: register sizes and clock drift, and that a chunk's entries lie in its
 * range. Returns the problems (none means the payload may be merged).
 */
export function checkPayload(
  payload: SyncPayload,
  limits: { maxRegisterBytes: number },
  hlc: HybridClock,
): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  payload.objects.forEach((o, i) => {
    if (o.type === "register") {
      if (jsonBytes(o.state.value) > limits.maxRegisterBytes) {
        issues.push({
          path: `objects.${i}.state.value`,
          message: `Exceeds ${limits.maxRegisterBytes} bytes`,
        });
      }
      try {
        hlc.checkDrift(o.state.ts);
      } catch (e) {
        if (!(e instanceof ClockDriftError)) throw e;
        issues.push({ path: `objects.${i}.state.ts`, message: e.message });
      }
    } else if (o.type === "set" && o.range) {
      const { from, to } = o.range;
      for (const element of o.state.entries.keys()) {
        if (
          (from !== null && compareCodePoints(element, from) < 0) ||
          (to !== null && compareCodePoints(element, to) >= 0)
        ) {
          issues.push({
            path: `objects.${i}.state.entries`,
            message: `Outside the range: ${element}`,
          });
          break;
        }
      }
    }
  });
  return issues;
}

/** The wire form of a counter object. */
export function counterObject(name: string, state: PNCounter): unknown {
  return { type: "counter", name, state: pncounterToWire(state) };
}

/** The wire form of a set delta object. */
export function setDeltaObject(name: string, delta: OrSet): unknown {
  return { type: "set", name, state: orsetToWire(delta) };
}

/** The wire form of a full-state chunk of a set. */
export function setChunkObject(name: string, chunk: SetChunk): unknown {
  return {
    type: "set",
    name,
    state: orsetToWire(chunk.state),
    range: { from: chunk.from, to: chunk.to, final: chunk.final },
  };
}

/** The wire form of a register object. */
export function registerObject(name: string, state: LwwRegister): unknown {
  return { type: "register", name, state: lwwToWire(state) };
}

/**
 * `POST /_edge/sync` (a peer pushes its deltas or full state; we merge) and `GET /_edge/sync`
 * (this replica and its peers' progress). Both need the shared `SYNC_TOKEN`; a payload is
 * validated whole before anything is merged, so a bad one changes nothing.
 */

import { Hono } from "hono";
import type { AppEnv } from "../../../core/request.ts";
import type { CrdtStore } from "../store.ts";
import { HttpError, readJsonBody } from "../../../platform/http/errors.ts";
import { jsonResponse } from "../../../platform/http/respond.ts";
import { parseInput } from "../../../platform/http/validate.ts";
import { CasConflictError } from "../../../platform/kv/cas_retry.ts";
import type { Logger } from "../../../core/log.ts";
import type { MetricsRegistry } from "../../../core/metrics.ts";
import type { AntiEntropy } from "./anti_entropy.ts";
import { SharedSecret } from "../../../platform/http/secret.ts";
import {
  bytes,
  DEFAULT_PROBLEM,
  describedRoutes,
  json,
  jsonBody,
  named,
  problems,
  type RouteDoc,
  type SecurityDoc,
} from "../../../platform/http/route_doc.ts";
import { checkPayload, SYNC_VERSION, SyncAckSchema, SyncPayloadSchema } from "./protocol.ts";
import { applyPayload } from "./receive.ts";
import { MAX_DEPTH, withinDepth } from "../../items/item_schema.ts";

/** What the sync routes use. */
export interface SyncRoutesOptions {
  store: () => Promise<CrdtStore>;
  engine: AntiEntropy | null;
  token: string | undefined;
  maxBodyBytes: number;
  maxRegisterBytes: number;
  log: Logger;
  metrics: MetricsRegistry;
}

const NO_STORE = { "cache-control": "no-store" };
const SYNC_SECURITY: SecurityDoc = [{ syncToken: [] }];
const SYNC_PROBLEMS = {
  401: "`unauthorized`: no or wrong sync token",
  403: "`sync_disabled`: this node has no `SYNC_TOKEN`",
};

function postSyncDoc(options: SyncRoutesOptions): RouteDoc {
  return {
    operationId: "postSync",
    tags: ["Sync"],
    summary: "Merge a peer's CRDT deltas or full state",
    description: "Validated whole before anything is merged: a bad payload changes nothing. " +
      "Merges are idempotent, so retries are safe. Register values are limited to " +
      `${bytes(options.maxRegisterBytes)}, and timestamps to \`crdt.maxClockDriftMs\` ahead ` +
      "of this node's clock.",
    security: SYNC_SECURITY,
    requestBody: jsonBody(
      named("SyncPayload", SyncPayloadSchema),
      `Sync protocol version 1, at most ${bytes(options.maxBodyBytes)}`,
    ),
    responses: {
      200: json("Merged", named("SyncAck", SyncAckSchema)),
      ...problems({
        400: "`validation_failed` (with `errors`), `invalid_json`, `too_deep`",
        ...SYNC_PROBLEMS,
        409: "`replica_collision`: the sender uses this node's replica id",
        413: "`body_too_large`",
        415: "`unsupported_media_type`",
        503: "`busy`: lost races with other writers; retry",
      }),
      default: DEFAULT_PROBLEM,
    },
  };
}

// The answer's schema loads with the document (`../responses.ts`), not at start-up.
async function syncStatusDoc(): Promise<RouteDoc> {
  const { SyncStatusSchema } = await import("../responses.ts");
  return {
    operationId: "getSyncStatus",
    tags: ["Sync"],
    summary: "This replica and its peers' progress",
    security: SYNC_SECURITY,
    responses: {
      200: json("Replica and peers", named("SyncStatus", SyncStatusSchema)),
      ...problems(SYNC_PROBLEMS),
      default: DEFAULT_PROBLEM,
    },
  };
}

/** Builds the sync app, to be mounted at `/_edge/sync`. */
export function syncRoutes(options: SyncRoutesOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const api = describedRoutes(app);
  const secret = options.token ? new SharedSecret(options.token) : null;
  const received = options.metrics.counter(
    "outpost_sync_received_total",
    "Sync requests received, by outcome",
  );

  function authorize(req: Request): void {
    if (!secret) {
      received.inc({ outcome: "disabled" });
      throw new HttpError(403, "Sync is not enabled on this node (no SYNC_TOKEN)", {
        code: "sync_disabled",
      });
    }
    if (!secret.matchesBearer(req.headers.get("authorization"))) {
      received.inc({ outcome: "unauthorized" });
      throw new HttpError(401, "A valid sync token is required", {
        code: "unauthorized",
        headers: { "www-authenticate": 'Bearer realm="outpost-sync"' },
      });
    }
  }

  api.post("/", () => postSyncDoc(options), async (c) => {
    authorize(c.req.raw);
    let payload;
    try {
      const body = await readJsonBody(c.req.raw, options.maxBodyBytes);
      // Structure (about 8 levels) plus a register value of at most MAX_DEPTH.
      if (!withinDepth(body, MAX_DEPTH + 16)) {
        throw new HttpError(400, "Sync payload nests too deep", { code: "too_deep" });
      }
      payload = parseInput(SyncPayloadSchema, body, "sync payload");
    } catch (error) {
      received.inc({ outcome: "rejected" });
      throw error;
    }
    const store = await options.store();
    if (payload.from.replica === store.replica) {
      if (payload.from.kvId === store.kvId) {
        return jsonResponse(ack(store, 0, true), 200, NO_STORE);
      }
      received.inc({ outcome: "rejected" });
      options.log.error("sync peer uses this node's replica id", {
        replica: store.replica,
        peer_kv_id: payload.from.kvId,
      });
      throw new HttpError(409, `Replica id collision: ${store.replica} is this node's id`, {
        code: "replica_collision",
      });
    }
    const issues = checkPayload(payload, options, store.hlc);
    if (issues.length > 0) {
      received.inc({ outcome: "rejected" });
      throw new HttpError(400, `Invalid sync payload: ${issues[0].path}: ${issues[0].message}`, {
        code: "validation_failed",
        extensions: { errors: issues },
      });
    }
    try {
      const changed = await applyPayload(store, payload);
      received.inc({ outcome: "applied" });
      return jsonResponse(ack(store, changed), 200, NO_STORE);
    } catch (error) {
      if (!(error instanceof CasConflictError)) throw error;
      received.inc({ outcome: "busy" });
      throw new HttpError(503, error.message, { code: "busy", headers: { "retry-after": "1" } });
    }
  });

  api.get("/", syncStatusDoc, async (c) => {
    authorize(c.req.raw);
    const store = await options.store();
    return jsonResponse(
      {
        replica: store.replica,
        kvId: store.kvId,
        peers: options.engine ? await options.engine.status() : [],
      },
      200,
      NO_STORE,
    );
  });

  return app;
}

function ack(store: CrdtStore, changed: number, self = false) {
  return {
    v: SYNC_VERSION,
    replica: store.replica,
    kvId: store.kvId,
    changed,
    ...(self ? { self } : {}),
  };
}

/** The `websocket` section of the configuration and the environment variables that set it. */

import { z } from "zod";
import type { FeatureConfig } from "../../core/feature.ts";
import type { EnvTable } from "../../platform/config/env.ts";

const MiB = 1024 * 1024;

/** WebSockets through the edge (docs/http-api.md#websockets). */
export const WebSocketConfigSchema = z.object({
  /** Relay WebSocket upgrades to origins (off: an upgrade is forwarded as a plain GET). */
  enabled: z.boolean().default(true),
  /**
   * The subprotocol prefix that carries a bearer token for browsers (`bearer.<token>`); the
   * subprotocol is taken out before the origin sees the offer. `""` turns it off.
   */
  tokenProtocolPrefix: z.string().regex(
    /^([!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32})?$/,
    "Must be empty or 1-32 characters of an HTTP token",
  ).default("bearer."),
  /** Largest message either way (UTF-8 bytes for text); past it the pair closes with 1009. */
  maxMessageBytes: z.number().int().min(125).max(64 * MiB).default(MiB),
  /**
   * Bytes one direction may hold at the edge: past it the origin is no longer read (origin →
   * client), or the pair closes with 1008 (client → origin). One message more may be in flight.
   */
  maxBufferedBytes: z.number().int().min(16 * 1024).max(256 * MiB).default(4 * MiB),
  /** A pair with no message either way for this long closes with 1001 (0: never). */
  idleTimeoutMs: z.number().int().min(0).max(86_400_000).default(300_000),
  /**
   * Keep-alive: Deno pings the client at this interval and drops it when no pong comes back in
   * time; the edge pings an origin silent for this long and closes the pair with 1011 when it
   * stays silent as long again (0: neither).
   */
  pingIntervalMs: z.number().int().min(0).max(3_600_000).default(30_000),
  /** Time to connect to an origin and read its answer to the upgrade, per attempt. */
  connectTimeoutMs: z.number().int().min(1).max(120_000).default(10_000),
  /** Time a side has to answer a close before its connection is dropped. */
  closeTimeoutMs: z.number().int().min(1).max(60_000).default(5_000),
  /** Open WebSockets on this node; past it an upgrade is refused with 503. */
  maxConnections: z.number().int().min(1).max(1_000_000).default(10_000),
  /** Open WebSockets per user (or per client address when anonymous) on this node; 429 past it. */
  maxConnectionsPerUser: z.number().int().min(1).max(100_000).default(32),
}).prefault({});

/** The validated `websocket` section. */
export type WebSocketConfig = z.infer<typeof WebSocketConfigSchema>;

/** The fields this feature owns. */
export const WEBSOCKET_FIELDS = {
  /** WebSockets through the edge (lib/features/websocket, docs/http-api.md#websockets). */
  websocket: WebSocketConfigSchema,
};

/** Environment variables of this feature, and the config field each sets. */
export const WEBSOCKET_ENV: EnvTable = {
  WEBSOCKET_ENABLED: { path: "websocket.enabled", kind: "bool" },
  WEBSOCKET_MAX_CONNECTIONS: { path: "websocket.maxConnections", kind: "int" },
  WEBSOCKET_MAX_CONNECTIONS_PER_USER: { path: "websocket.maxConnectionsPerUser", kind: "int" },
  WEBSOCKET_IDLE_TIMEOUT_MS: { path: "websocket.idleTimeoutMs", kind: "int" },
  WEBSOCKET_MAX_MESSAGE_BYTES: { path: "websocket.maxMessageBytes", kind: "bytes" },
};

/** How the loader reads them. */
export const WEBSOCKET_CONFIG: FeatureConfig<typeof WEBSOCKET_FIELDS> = {
  fields: WEBSOCKET_FIELDS,
  env: WEBSOCKET_ENV,
};

/**
 * The feature's Prometheus metrics (`outpost_websocket_*`). Per-message counters are resolved
 * once, so relaying a message costs two additions.
 */

import type { MetricsRegistry } from "../../core/metrics.ts";
import type { BridgeEnd, BridgeMeters } from "./bridge.ts";

/** Every metric the feature records. */
export interface WebSocketMeters extends BridgeMeters {
  /** An upgrade's outcome: `opened`, `refused`, `failed`, `limit_node`, `limit_user`. */
  upgrade(outcome: string): void;
  /** The number of open pairs. */
  open(count: number): void;
  /** A pair ended. */
  ended(end: BridgeEnd): void;
  /** Bytes held at the edge now, per direction. */
  buffered(toClient: number, toOrigin: number): void;
}

/** A close code as a label: the registered codes as they are, private ranges by thousand. */
function codeLabel(code: number | undefined): string {
  if (code === undefined) return "none";
  if (code >= 3000 && code <= 3999) return "3xxx";
  if (code >= 4000 && code <= 4999) return "4xxx";
  if (code >= 1000 && code <= 1015) return String(code);
  return "other";
}

/** Registers the metrics in `metrics`. */
export function createMeters(metrics: MetricsRegistry): WebSocketMeters {
  const upgrades = metrics.counter(
    "outpost_websocket_upgrades_total",
    "WebSocket upgrades by outcome (opened, refused by the origin, failed, limit_node, limit_user)",
  );
  const open = metrics.gauge("outpost_websocket_connections", "WebSockets open through this node");
  const closes = metrics.counter(
    "outpost_websocket_closes_total",
    "WebSockets closed, by who started the close (client, origin, edge) and close code",
  );
  const edgeCloses = metrics.counter(
    "outpost_websocket_edge_closes_total",
    "WebSockets the edge closed itself, by reason (idle, message_too_big, origin_too_slow, …)",
  );
  const duration = metrics.histogram(
    "outpost_websocket_duration_seconds",
    "How long WebSockets stayed open (buckets end at 30 s; _sum/_count give the mean)",
  );
  const messages = metrics.counter(
    "outpost_websocket_messages_total",
    "Messages relayed, by direction and type",
  );
  const bytes = metrics.counter(
    "outpost_websocket_bytes_total",
    "Message payload bytes relayed, by direction",
  );
  const pauses = metrics.counter(
    "outpost_websocket_backpressure_pauses_total",
    "Times reading from an origin paused because its client was not reading fast enough",
  );
  const buffered = metrics.gauge(
    "outpost_websocket_buffered_bytes",
    "Bytes held at the edge for slow readers, by direction (updated every second)",
  );
  const heldMax = metrics.gauge(
    "outpost_websocket_buffered_max_bytes",
    "The most bytes one WebSocket held at the edge for a slow reader since start, by direction",
  );
  const most = { client_to_origin: 0, origin_to_client: 0 };
  const series = {
    client_to_origin: {
      text: messages.bind({ direction: "client_to_origin", type: "text" }),
      binary: messages.bind({ direction: "client_to_origin", type: "binary" }),
      bytes: bytes.bind({ direction: "client_to_origin" }),
    },
    origin_to_client: {
      text: messages.bind({ direction: "origin_to_client", type: "text" }),
      binary: messages.bind({ direction: "origin_to_client", type: "binary" }),
      bytes: bytes.bind({ direction: "origin_to_client" }),
    },
  };
  return {
    message(direction, binary, size) {
      const s = series[direction];
      (binary ? s.binary : s.text).inc();
      s.bytes.inc(size);
    },
    paused: () => pauses.inc(),
    held(direction, bytes) {
      if (bytes <= most[direction]) return;
      most[direction] = bytes;
      heldMax.set(bytes, { direction });
    },
    upgrade: (outcome) => upgrades.inc({ outcome }),
    open: (count) => open.set(count),
    ended(end) {
      closes.inc({ initiator: end.initiator, code: codeLabel(end.code) });
      if (end.edgeReason !== null) edgeCloses.inc({ reason: end.edgeReason });
      duration.record(end.durationMs);
    },
    buffered(toClient, toOrigin) {
      buffered.set(toClient, { direction: "origin_to_client" });
      buffered.set(toOrigin, { direction: "client_to_origin" });
    },
  };
}

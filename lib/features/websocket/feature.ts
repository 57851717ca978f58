/**
 * WebSockets through the edge as one feature: the middleware that takes a browser's token out of
 * the subprotocol offer (before authorization), the middleware that relays upgrades on proxied
 * routes (after A/B assignment, before the cache), the per-node and per-user limits, the metrics,
 * and the sweep that enforces idle and keep-alive time limits.
 */

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { Clock } from "../../core/clock.ts";
import { HttpError } from "../../platform/http/errors.ts";
import type { Jobs } from "../../core/jobs.ts";
import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";
import type { OriginHealth } from "../proxy/breaker.ts";
import type { AttemptOutcome } from "../proxy/forward.ts";
import { type Bridge, type BridgeSnapshot } from "./bridge.ts";
import type { Feature } from "../../core/feature.ts";
import { WEBSOCKET_CONFIG, type WEBSOCKET_FIELDS, type WebSocketConfig } from "./config.ts";
import { type Dial, dial as realDial } from "./connect.ts";
import { CLOSE } from "./frame.ts";
import { createMeters, type WebSocketMeters } from "./meters.ts";
import { splitOffer, wantsWebSocket } from "./protocols.ts";
import { relayUpgrade } from "./relay.ts";

/** What the feature is built on. */
export interface WebSocketServices {
  clock: Clock;
  log: Logger;
  metrics: MetricsRegistry;
  jobs: Jobs;
  /** The origins' circuit breakers, shared with HTTP forwarding. */
  health: OriginHealth;
  /** This node's region (its `Via` pseudonym). */
  region: string;
  /** Origins one upgrade may try (`proxy.maxAttempts`). */
  maxAttempts: number;
  /** Called after every origin attempt (the forwarder's attempt metrics). */
  onAttempt?: (attempt: AttemptOutcome) => void;
  /** How origin connections are opened (tests may replace it). */
  dial?: Dial;
}

/** What `stats()` reports. */
export interface WebSocketStats {
  open: number;
  /** Pairs per user key (`user:<id>` or `ip:<address>`), connecting ones included. */
  perUser: Record<string, number>;
  pairs: BridgeSnapshot[];
}

/** The running feature. */
export interface WebSockets {
  /** Before authorization: a `bearer.<token>` subprotocol becomes `Authorization: Bearer`. */
  credentials: MiddlewareHandler<AppEnv>;
  /** On proxied routes: relays a WebSocket upgrade; anything else passes on. */
  proxy: MiddlewareHandler<AppEnv>;
  /** Open pairs and their buffers. */
  stats(): WebSocketStats;
  /** Enforces connect, idle and keep-alive limits now (a job runs it every second). */
  sweep(): void;
  /**
   * Closes every pair with 1001 and refuses new ones; waits for them to end at most `waitMs`
   * (default: the close timeout).
   */
  close(waitMs?: number): Promise<void>;
}

declare module "../../core/feature.ts" {
  interface FeatureApis {
    websocket: WebSockets;
  }
}

/** The feature's registration. */
export const websocketFeature: Feature<"websocket", typeof WEBSOCKET_FIELDS> = {
  name: "websocket",
  config: WEBSOCKET_CONFIG,
  create(svc, cfg) {
    const proxy = svc.use("proxy")!;
    // On proxied routes: the same origins, ranking and breakers as forwarding.
    const websocket = createWebSockets({
      clock: svc.clock,
      log: svc.log,
      metrics: svc.metrics,
      jobs: svc.jobs,
      health: proxy.health,
      region: svc.config.region,
      maxAttempts: svc.config.proxy.maxAttempts,
      onAttempt: proxy.onAttempt,
    }, cfg.websocket);
    if (websocket === null) return {};
    return {
      api: websocket,
      stages: [
        // A browser's token offered as a subprotocol is authorized like one in the header
        // (without authorization the relay itself keeps it from the origin's offer).
        ...(svc.config.authz.enabled
          ? [{ phase: "credentials" as const, handler: websocket.credentials }]
          : []),
        { phase: "upgrade", handler: websocket.proxy },
      ],
      close: (options) => websocket.close(options.graceMs),
    };
  },
};

/** Builds the feature; null when `websocket.enabled` is false. */
export function createWebSockets(
  svc: WebSocketServices,
  cfg: WebSocketConfig,
): WebSockets | null {
  if (!cfg.enabled) return null;
  const log = svc.log.child({ area: "websocket" });
  const meters: WebSocketMeters = createMeters(svc.metrics);
  const bridges = new Set<Bridge>();
  /** Pairs per user key, counted from the moment an upgrade is admitted. */
  const perUser = new Map<string, number>();
  let reserved = 0;
  let closing = false;

  function admit(userKey: string): () => void {
    if (closing) {
      throw new HttpError(503, "The edge is shutting down", {
        code: "shutting_down",
        headers: { "retry-after": "1" },
      });
    }
    if (reserved >= cfg.maxConnections) {
      meters.upgrade("limit_node");
      throw new HttpError(503, `This edge holds its maximum of ${cfg.maxConnections} WebSockets`, {
        code: "websocket_capacity",
        headers: { "retry-after": "5" },
      });
    }
    const mine = perUser.get(userKey) ?? 0;
    if (mine >= cfg.maxConnectionsPerUser) {
      meters.upgrade("limit_user");
      throw new HttpError(
        429,
        `At most ${cfg.maxConnectionsPerUser} WebSockets per user are open at once`,
        { code: "websocket_user_limit", headers: { "retry-after": "5" } },
      );
    }
    reserved++;
    perUser.set(userKey, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      reserved--;
      const left = (perUser.get(userKey) ?? 1) - 1;
      if (left <= 0) perUser.delete(userKey);
      else perUser.set(userKey, left);
    };
  }

  const relayOptions = {
    cfg,
    clock: svc.clock,
    log,
    meters,
    region: svc.region,
    maxAttempts: svc.maxAttempts,
    health: svc.health,
    dial: svc.dial ?? realDial,
    onAttempt: svc.onAttempt,
    admit,
    track(bridge: Bridge) {
      bridges.add(bridge);
      meters.open(bridges.size);
    },
    untrack(bridge: Bridge) {
      bridges.delete(bridge);
      meters.open(bridges.size);
    },
  };

  function sweep(): void {
    const now = svc.clock.now();
    const limits = {
      openMs: cfg.connectTimeoutMs + cfg.closeTimeoutMs,
      idleMs: cfg.idleTimeoutMs,
      pingMs: cfg.pingIntervalMs,
    };
    let toClient = 0;
    let toOrigin = 0;
    for (const b of bridges) {
      b.tick(now, limits);
      const s = b.snapshot();
      toClient += s.clientBuffered;
      toOrigin += s.originBuffered;
    }
    meters.buffered(toClient, toOrigin);
  }
  svc.jobs.add({ name: "websocket-sweep", intervalMs: 1000, run: () => Promise.resolve(sweep()) });

  const prefix = cfg.tokenProtocolPrefix;
  return {
    credentials: function websocketCredentials(c, next) {
      const req = c.req.raw;
      if (prefix === "" || !wantsWebSocket(req.headers)) return next();
      const offer = req.headers.get("sec-websocket-protocol");
      if (offer === null) return next();
      let split;
      try {
        split = splitOffer(offer, prefix);
      } catch (error) {
        throw new HttpError(400, (error as Error).message, { code: "bad_websocket_protocol" });
      }
      if (split.token === null) return next();
      const headers = new Headers(req.headers);
      // A token in the header wins; the subprotocol one is dropped either way.
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${split.token}`);
      if (split.protocols.length > 0) {
        headers.set("sec-websocket-protocol", split.protocols.join(", "));
      } else headers.delete("sec-websocket-protocol");
      c.req.raw = new Request(req.url, { method: req.method, headers, signal: req.signal });
      return next();
    },
    proxy: function websocketProxy(c, next) {
      if (!wantsWebSocket(c.req.raw.headers)) return next();
      return relayUpgrade(c, relayOptions);
    },
    stats() {
      return {
        open: bridges.size,
        perUser: Object.fromEntries(perUser),
        pairs: [...bridges].map((b) => b.snapshot()),
      };
    },
    sweep,
    async close(waitMs = cfg.closeTimeoutMs + 100) {
      closing = true;
      for (const b of bridges) b.close(CLOSE.goingAway, "Edge shutting down", "shutdown");
      const deadline = performance.now() + waitMs;
      while (bridges.size > 0 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

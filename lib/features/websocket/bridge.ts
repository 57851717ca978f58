/**
 * One client–origin pair: messages relayed both ways, the closing handshake propagated with its
 * code and reason, the origin's pings answered, and memory bounded in both directions.
 *
 * Back-pressure: origin → client, the origin's connection is not read while the client's socket
 * holds more than `maxBufferedBytes`, so the origin is slowed by TCP flow control. Client →
 * origin, Deno's server-side `WebSocket` cannot pause reading, so when the origin's write queue
 * already holds more than `maxBufferedBytes` the pair is closed with 1008 instead of buffering
 * without bound. Either way a direction holds at most `maxBufferedBytes` plus one message.
 */

import type { Clock } from "../../core/clock.ts";
import { CLOSE, FrameError, isSendableCloseCode } from "./frame.ts";
import type { UpstreamSocket } from "./upstream.ts";

/** Who started the closing handshake. */
export type Initiator = "client" | "origin" | "edge";

/** How a pair ended, for metrics and logs. */
export interface BridgeEnd {
  initiator: Initiator;
  /** The close code (undefined: a close without status, or none at all). */
  code: number | undefined;
  reason: string;
  /** Why the edge closed it (`idle`, `message_too_big`, …); null when a peer did. */
  edgeReason: string | null;
  durationMs: number;
}

/** Counters a pair records into. */
export interface BridgeMeters {
  message(direction: "client_to_origin" | "origin_to_client", binary: boolean, bytes: number): void;
  paused(): void;
  /** A pair held `bytes` for one direction, the most it has held so far. */
  held(direction: "client_to_origin" | "origin_to_client", bytes: number): void;
}

/** Settings and collaborators of a {@linkcode Bridge}. */
export interface BridgeOptions {
  maxMessageBytes: number;
  maxBufferedBytes: number;
  /** Time the other side has to answer a close before its connection is dropped. */
  closeTimeoutMs: number;
  clock: Clock;
  meters: BridgeMeters;
  onEnd(end: BridgeEnd): void;
  /** Reports an unexpected error (logged by the feature). */
  onError(message: string, error: unknown): void;
}

/** A pair's figures, for `stats()` and tests. */
export interface BridgeSnapshot {
  userKey: string;
  region: string;
  openForMs: number;
  /** Bytes Deno holds for the client now, and the most it held. */
  clientBuffered: number;
  clientBufferedMax: number;
  /** Bytes queued for the origin now, and the most queued. */
  originBuffered: number;
  originBufferedMax: number;
  /** Whether reading from the origin is paused for a slow client. */
  paused: boolean;
  /** Whether a keep-alive ping to the origin awaits an answer. */
  awaitingPong: boolean;
}

const encoder = new TextEncoder();

/** Relays one client socket and one origin socket until both are closed. */
export class Bridge {
  readonly client: WebSocket;
  readonly upstream: UpstreamSocket;
  readonly userKey: string;
  readonly region: string;
  readonly #o: BridgeOptions;
  readonly createdAt: number;
  #openedAt = 0;
  #lastActivity: number;
  #lastHeard: number;
  #pingSentAt: number | null = null;
  #clientOpen = false;
  #clientClosed = false;
  #upstreamDone = false;
  #ending: Omit<BridgeEnd, "durationMs"> | null = null;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #finished = false;
  #closeSent = false;
  #paused = false;
  #clientMax = 0;
  #originMax = 0;

  constructor(
    client: WebSocket,
    upstream: UpstreamSocket,
    who: { userKey: string; region: string },
    options: BridgeOptions,
  ) {
    this.client = client;
    this.upstream = upstream;
    this.userKey = who.userKey;
    this.region = who.region;
    this.#o = options;
    this.createdAt = this.#lastActivity = this.#lastHeard = options.clock.now();
    client.binaryType = "arraybuffer";
    client.onopen = () => this.#onClientOpen();
    client.onmessage = (e) => this.#onClientMessage(e);
    client.onclose = (e) => this.#onClientClose(e);
    // An error is always followed by a close event, which does the work.
    client.onerror = () => {};
  }

  /** Whether the client's side has opened (the 101 reached it). */
  get open(): boolean {
    return this.#clientOpen;
  }

  /** Whether a closing handshake has started. */
  get closing(): boolean {
    return this.#ending !== null;
  }

  snapshot(): BridgeSnapshot {
    return {
      userKey: this.userKey,
      region: this.region,
      openForMs: this.#clientOpen ? this.#o.clock.now() - this.#openedAt : 0,
      clientBuffered: this.#clientOpen ? this.client.bufferedAmount : 0,
      clientBufferedMax: this.#clientMax,
      originBuffered: this.upstream.bufferedAmount,
      originBufferedMax: this.#originMax,
      paused: this.#paused,
      awaitingPong: this.#pingSentAt !== null,
    };
  }

  /**
   * Periodic checks: a client that never opened, idleness (no message either way for
   * `idleMs`), and an origin that stays silent past a ping (`pingMs`; 0 turns either off).
   */
  tick(now: number, limits: { openMs: number; idleMs: number; pingMs: number }): void {
    if (this.#finished || this.#ending !== null) return;
    if (!this.#clientOpen) {
      if (now - this.createdAt >= limits.openMs) {
        this.close(
          CLOSE.goingAway,
          "The client did not complete the upgrade",
          "client_never_opened",
        );
      }
      return;
    }
    if (limits.idleMs > 0 && now - this.#lastActivity >= limits.idleMs) {
      this.close(CLOSE.goingAway, "Idle timeout", "idle");
      return;
    }
    if (limits.pingMs > 0 && now - this.#lastHeard >= limits.pingMs) {
      if (this.#pingSentAt === null) {
        this.#pingSentAt = now;
        this.upstream.sendPing();
      } else if (now - this.#pingSentAt >= limits.pingMs) {
        this.close(CLOSE.internalError, "The origin stopped answering", "origin_unresponsive");
      }
    }
  }

  /** Closes both sides with `code` and `reason` (the edge's decision: limits, shutdown). */
  close(code: number, reason: string, edgeReason: string): void {
    if (this.#ending !== null || this.#finished) return;
    this.#ending = { initiator: "edge", code, reason, edgeReason };
    this.#closeClient(code, reason);
    this.#closeOrigin(code, reason);
    this.#armCloseTimer();
    // Before the client opened nothing reads the origin: nothing will answer the close.
    if (!this.#clientOpen) this.upstream.flushed().finally(() => this.#dropUpstream());
  }

  #onClientOpen(): void {
    this.#clientOpen = true;
    this.#openedAt = this.#lastActivity = this.#o.clock.now();
    if (this.#ending !== null) return;
    this.#pumpOrigin().catch((error) => {
      this.#o.onError("relaying from the origin failed", error);
      this.close(CLOSE.internalError, "Relay failed", "relay_error");
      this.#dropUpstream();
    });
  }

  #onClientMessage(e: MessageEvent): void {
    if (this.#ending !== null) return;
    const data = e.data as string | ArrayBuffer;
    const binary = typeof data !== "string";
    const payload = binary ? new Uint8Array(data as ArrayBuffer) : encoder.encode(data as string);
    if (payload.length > this.#o.maxMessageBytes) {
      this.close(CLOSE.messageTooBig, "Message too big", "message_too_big");
      return;
    }
    if (this.upstream.bufferedAmount > this.#o.maxBufferedBytes) {
      this.close(CLOSE.policyViolation, "The origin reads too slowly", "origin_too_slow");
      return;
    }
    if (binary) this.upstream.sendBinary(payload);
    else this.upstream.sendText(payload);
    const queued = this.upstream.bufferedAmount;
    if (queued > this.#originMax) {
      this.#originMax = queued;
      this.#o.meters.held("client_to_origin", queued);
    }
    this.#lastActivity = this.#o.clock.now();
    this.#o.meters.message("client_to_origin", binary, payload.length);
  }

  #onClientClose(e: CloseEvent): void {
    this.#clientClosed = true;
    if (this.#ending === null) {
      // The client started the closing handshake (or vanished): tell the origin the same.
      let code: number | undefined = e.code;
      let reason = e.reason;
      if (code === CLOSE.noStatus) code = undefined;
      else if (!isSendableCloseCode(code)) {
        code = CLOSE.goingAway;
        reason = "Client connection lost";
      }
      this.#ending = { initiator: "client", code: e.code, reason: e.reason, edgeReason: null };
      this.#closeOrigin(code, reason);
      this.#armCloseTimer();
      if (!this.#clientOpen) this.upstream.flushed().finally(() => this.#dropUpstream());
    }
    this.#maybeFinish();
  }

  async #pumpOrigin(): Promise<void> {
    const up = this.upstream;
    while (!this.#upstreamDone) {
      if (this.client.bufferedAmount > this.#o.maxBufferedBytes) await this.#waitForClient();
      let msg;
      try {
        msg = await up.receive();
      } catch (error) {
        if (error instanceof FrameError) this.#originBroke(error);
        else this.#originLost();
        return;
      }
      if (msg === null) {
        this.#originLost();
        return;
      }
      this.#lastHeard = this.#o.clock.now();
      this.#pingSentAt = null;
      switch (msg.type) {
        case "text":
        case "binary": {
          // After a close started, data still in flight is dropped (RFC 6455 §5.5.1).
          if (this.#ending !== null || this.#clientClosed) continue;
          const binary = msg.type === "binary";
          try {
            this.client.send(msg.data as string | Uint8Array<ArrayBuffer>);
          } catch {
            continue; // the client is closing: its close event ends the pair
          }
          const held = this.client.bufferedAmount;
          if (held > this.#clientMax) {
            this.#clientMax = held;
            this.#o.meters.held("origin_to_client", held);
          }
          this.#lastActivity = this.#lastHeard;
          const size = msg.type === "binary" ? msg.data.length : msg.bytes;
          this.#o.meters.message("origin_to_client", binary, size);
          break;
        }
        case "ping":
          up.sendPong(msg.data);
          break;
        case "pong":
          break;
        case "close":
          await this.#originClosed(msg.code, msg.reason);
          return;
      }
    }
  }

  /** Waits (polling: a WebSocket has no drain event) until the client's buffer is low again. */
  async #waitForClient(): Promise<void> {
    this.#paused = true;
    this.#o.meters.paused();
    let delay = 1;
    while (
      this.client.bufferedAmount > this.#o.maxBufferedBytes && !this.#clientClosed &&
      this.#ending === null
    ) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 50);
    }
    this.#paused = false;
  }

  async #originClosed(code: number | undefined, reason: string): Promise<void> {
    if (this.#ending === null) {
      this.#ending = { initiator: "origin", code, reason, edgeReason: null };
      // Echo the close (RFC 6455 §5.5.1), then pass it on to the client.
      this.#closeOrigin(code, reason);
      this.#closeClient(code, reason);
      this.#armCloseTimer();
    }
    await this.upstream.flushed();
    this.#dropUpstream();
  }

  /** The origin's connection ended without a close frame. */
  #originLost(): void {
    if (this.#ending === null) {
      this.#ending = {
        initiator: "origin",
        code: CLOSE.abnormal,
        reason: "",
        edgeReason: null,
      };
      this.#closeClient(CLOSE.internalError, "Origin connection lost");
      this.#armCloseTimer();
    }
    this.#dropUpstream();
  }

  /** The origin broke the protocol or sent a message over the limit. */
  #originBroke(error: FrameError): void {
    const tooBig = error.code === CLOSE.messageTooBig;
    if (this.#ending === null) {
      const edgeReason = tooBig ? "message_too_big" : "origin_protocol_error";
      this.#ending = { initiator: "edge", code: error.code, reason: error.message, edgeReason };
      this.#closeClient(
        tooBig ? CLOSE.messageTooBig : CLOSE.internalError,
        tooBig ? "Message too big" : "Origin protocol error",
      );
      this.#armCloseTimer();
    }
    this.#closeOrigin(error.code, tooBig ? "Message too big" : error.message);
    this.upstream.flushed().finally(() => this.#dropUpstream());
  }

  /** Sends the origin a close frame, once. */
  #closeOrigin(code: number | undefined, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.upstream.sendClose(code, reason);
  }

  #closeClient(code: number | undefined, reason: string): void {
    if (this.#clientClosed) return;
    try {
      if (code === undefined || !isSendableCloseCode(code)) this.client.close();
      else this.client.close(code, reason);
    } catch (error) {
      this.#o.onError("closing the client socket failed", error);
    }
  }

  #armCloseTimer(): void {
    this.#closeTimer ??= setTimeout(() => {
      // A side that does not answer the close in time is dropped; the pair ends regardless.
      this.#dropUpstream();
      this.#clientClosed = true;
      this.#maybeFinish();
    }, this.#o.closeTimeoutMs);
  }

  #dropUpstream(): void {
    this.#upstreamDone = true;
    this.upstream.close();
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (this.#finished || !this.#clientClosed || !this.#upstreamDone) return;
    this.#finished = true;
    clearTimeout(this.#closeTimer);
    const ending = this.#ending!;
    const durationMs = this.#clientOpen ? this.#o.clock.now() - this.#openedAt : 0;
    this.#o.onEnd({ ...ending, durationMs });
  }
}

/**
 * Sending sync payloads to a peer: objects are packed into requests of at most half the body
 * limit (peers share the config, so this stays under theirs), each POST has a timeout, and any
 * answer other than a valid acknowledgement is an error the caller retries later.
 */

import type { CrdtStore } from "../store.ts";
import type { MetricsRegistry } from "../../../core/metrics.ts";
import { SYNC_VERSION, type SyncAck, SyncAckSchema } from "./protocol.ts";

const encoder = new TextEncoder();

/** What the client needs. */
export interface PeerClientOptions {
  fetch: typeof fetch;
  metrics: MetricsRegistry;
  token: string;
  timeoutMs: number;
  maxBodyBytes: number;
}

/** Objects collected into as few requests as fit. */
class PayloadBatch {
  requests = 0;
  objects = 0;
  readonly #client: PeerClient;
  readonly #send: (objects: string[]) => Promise<SyncAck>;
  #parts: string[] = [];
  #bytes = 0;
  #ack: SyncAck | null = null;

  constructor(client: PeerClient, send: (objects: string[]) => Promise<SyncAck>) {
    this.#client = client;
    this.#send = send;
  }

  /** Adds one object, sending what is collected first when it would not fit. */
  async add(object: unknown): Promise<void> {
    const json = JSON.stringify(object);
    const bytes = encoder.encode(json).byteLength + 1;
    if (this.#parts.length > 0 && this.#bytes + bytes > this.#client.budget) await this.#flush();
    this.#parts.push(json);
    this.#bytes += bytes;
  }

  /** Sends what is left (an empty request too when `force` and nothing was sent). */
  async finish(force: boolean): Promise<SyncAck | null> {
    if (this.#parts.length > 0 || (force && this.requests === 0)) await this.#flush();
    return this.#ack;
  }

  async #flush(): Promise<void> {
    this.#ack = await this.#send(this.#parts);
    this.requests++;
    this.objects += this.#parts.length;
    this.#parts = [];
    this.#bytes = 0;
  }
}

/** Posts payloads to peers. */
export class PeerClient {
  /** Bytes of objects per request. */
  readonly budget: number;
  readonly #o: PeerClientOptions;

  constructor(options: PeerClientOptions) {
    this.#o = options;
    this.budget = Math.floor(options.maxBodyBytes / 2);
  }

  /** A batch of objects for one peer and one kind of round. */
  batch(url: string, store: CrdtStore, kind: "delta" | "full", signal?: AbortSignal): PayloadBatch {
    const head = JSON.stringify({
      v: SYNC_VERSION,
      kind,
      from: { replica: store.replica, kvId: store.kvId },
    });
    return new PayloadBatch(
      this,
      (objects) =>
        this.send(url, `${head.slice(0, -1)},"objects":[${objects.join(",")}]}`, kind, signal),
    );
  }

  /** POSTs one payload; resolves with the peer's acknowledgement or throws. */
  async send(url: string, body: string, kind: string, signal?: AbortSignal): Promise<SyncAck> {
    const requests = this.#o.metrics.counter(
      "outpost_sync_requests_total",
      "Sync requests sent, by peer, kind and outcome",
    );
    const timeout = AbortSignal.timeout(this.#o.timeoutMs);
    let res: Response;
    try {
      res = await this.#o.fetch(`${url}/_edge/sync`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.#o.token}`, "content-type": "application/json" },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      requests.inc({ peer: url, kind, outcome: "unreachable" });
      throw new Error(`Could not reach ${url}: ${(error as Error).message}`, { cause: error });
    }
    const text = await res.text().catch(() => "");
    if (!res.ok) {
      requests.inc({ peer: url, kind, outcome: `http_${res.status}` });
      let detail = text.slice(0, 300);
      try {
        detail = JSON.parse(text).detail ?? detail;
      } catch {
        // not problem+json
      }
      throw new Error(`Peer ${url} answered ${res.status}: ${detail}`);
    }
    let ack: SyncAck;
    try {
      ack = SyncAckSchema.parse(JSON.parse(text));
    } catch {
      requests.inc({ peer: url, kind, outcome: "bad_ack" });
      throw new Error(`Peer ${url} sent an invalid acknowledgement: ${text.slice(0, 200)}`);
    }
    requests.inc({ peer: url, kind, outcome: "ok" });
    this.#o.metrics.counter("outpost_sync_bytes_sent_total", "Sync payload bytes sent, by peer")
      .inc({ peer: url }, encoder.encode(body).byteLength);
    return ack;
  }
}

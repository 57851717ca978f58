/**
 * An origin for fault injection, on a real socket: each path answers as scripted (200, any
 * status, a body that resets mid-way, or a hang), and the whole server can stop listening
 * (connections refused) and listen again on the same port.
 */

/** How one path answers. */
export type Behavior =
  | { kind: "ok" }
  | { kind: "status"; status: number }
  | { kind: "reset" }
  | { kind: "hang" };

/** A scriptable origin on 127.0.0.1. */
export class ScriptedOrigin implements AsyncDisposable {
  readonly port: number;
  readonly url: string;
  readonly #script = new Map<string, Behavior>();
  readonly #hits = new Map<string, number>();
  readonly #hanging = new Set<() => void>();
  #server: Deno.HttpServer<Deno.NetAddr> | null;

  constructor() {
    this.#server = this.#listen(0);
    this.port = this.#server.addr.port;
    this.url = `http://127.0.0.1:${this.port}`;
  }

  #listen(port: number): Deno.HttpServer<Deno.NetAddr> {
    return Deno.serve(
      { port, hostname: "127.0.0.1", onListen() {} },
      (req) => this.#answer(req),
    );
  }

  #answer(req: Request): Response | Promise<Response> {
    const path = new URL(req.url).pathname;
    this.#hits.set(path, (this.#hits.get(path) ?? 0) + 1);
    const behavior = this.#script.get(path) ?? { kind: "ok" };
    const headers = { "cache-control": "no-store", "content-type": "text/plain" };
    switch (behavior.kind) {
      case "ok":
        return new Response(`ok ${path}`, { headers });
      case "status":
        return new Response(`answered ${behavior.status}`, { status: behavior.status, headers });
      case "reset": {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("partial "));
            controller.error(new Error("origin reset mid-body"));
          },
        });
        return new Response(body, { headers });
      }
      case "hang":
        return new Promise<Response>((resolve) => {
          const release = () => resolve(new Response("late", { headers }));
          this.#hanging.add(release);
          req.signal.addEventListener("abort", () => {
            this.#hanging.delete(release);
            release();
          }, { once: true });
        });
    }
  }

  /** Scripts `path` (exact); `{ kind: "ok" }` restores it. */
  set(path: string, behavior: Behavior): void {
    this.#script.set(path, behavior);
  }

  /** Requests that reached `path`. */
  hits(path: string): number {
    return this.#hits.get(path) ?? 0;
  }

  /** Stops listening: new connections are refused until {@linkcode ScriptedOrigin.up}. */
  async down(): Promise<void> {
    this.#releaseHangs();
    await this.#server?.shutdown();
    this.#server = null;
  }

  /** Listens again on the same port. */
  up(): void {
    this.#server ??= this.#listen(this.port);
  }

  #releaseHangs(): void {
    for (const release of this.#hanging) release();
    this.#hanging.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.down();
  }
}

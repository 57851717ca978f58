/**
 * Opening the node's Deno KV wherever it runs: a file or `:memory:` (`KV_PATH`), a remote KV
 * (`KV_URL`: a `denokv` server or a Deno Deploy database), or the platform's default (Deno
 * Deploy's assigned database). A store that cannot be opened does not stop the node here: it serves
 * through a stand-in whose every operation fails with 503 `kv_unavailable`, health says why, and
 * opening is retried with back-off (main.ts still stops start-up for a local file that will not
 * open: that is the operator's to fix).
 */

import { KvHandle, KvUnavailableError, unavailableKv } from "./kv_handle.ts";
import type { Logger } from "../../core/log.ts";
import type { ConditionCheck } from "../../core/conditions.ts";

export { KvHandle, KvUnavailableError, unavailableKv };

/** Where the store comes from. */
export type KvSource = "path" | "url" | "platform";

/** Inputs to {@linkcode EdgeKv.open}. */
export interface OpenEdgeKvOptions {
  /** `kvPath` (a file or `:memory:`). */
  path?: string;
  /** `kvUrl` (remote KV). */
  url?: string;
  /** The environment (the remote KV's token). */
  env: Record<string, string | undefined>;
  /** Sets `DENO_KV_ACCESS_TOKEN` for the runtime (default: `Deno.env.set`). */
  setEnv?: (name: string, value: string) => void;
  /**
   * Opens a store: `Deno.openKv` by default, undefined when the runtime has none (no
   * `--unstable-kv`, or a host without KV).
   */
  open?: ((path?: string) => Promise<Deno.Kv>) | undefined;
  log: Logger;
  /** Back-off between attempts to open after a failure (ms; doubled up to `max`). */
  retry?: { minMs: number; maxMs: number };
}

/** The node's KV: the handle everything uses, where it comes from, and whether it is open. */
export class EdgeKv {
  readonly kv: Deno.Kv;
  readonly source: KvSource;
  readonly #handle: KvHandle;
  readonly #o: OpenEdgeKvOptions;
  #reason: string | null = null;
  #error: string | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #attempts = 0;
  /** False once a failure is one no retry can mend (no KV API; no database for this deployment). */
  #retrying = true;

  private constructor(handle: KvHandle, source: KvSource, options: OpenEdgeKvOptions) {
    this.#handle = handle;
    this.kv = handle.asKv();
    this.source = source;
    this.#o = options;
  }

  /** True while a real store is open. */
  get open(): boolean {
    return this.#reason === null;
  }

  /** Why no store is open (null when one is), in words fit for public health. */
  get reason(): string | null {
    return this.#reason;
  }

  /** The last failure's own message (may name paths or hosts: for the operator's console). */
  get error(): string | null {
    return this.#error;
  }

  /**
   * Opens the store, or (on failure) the stand-in with a retry loop behind it. Never throws.
   */
  static async open(options: OpenEdgeKvOptions): Promise<EdgeKv> {
    const source: KvSource = options.url ? "url" : options.path ? "path" : "platform";
    const edge = new EdgeKv(new KvHandle(unavailableKv()), source, options);
    await edge.#attempt();
    return edge;
  }

  /** A health check: unhealthy, with the reason, while no store is open. */
  check(): ConditionCheck {
    return () =>
      this.#reason === null ? null : {
        level: "unhealthy",
        reason: `${this.#reason}: items, CRDTs, analytics, purges and the shared cache answer ` +
          (this.#retrying ? "503 kv_unavailable until it opens (retrying)" : "503 kv_unavailable"),
      };
  }

  /** Tries to open now instead of at the next scheduled retry (no-op when a store is open). */
  async retry(): Promise<void> {
    if (this.#reason === null || this.#closed) return;
    clearTimeout(this.#timer);
    await this.#attempt();
  }

  /** Stops retrying and closes the store. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#handle.close();
  }

  async #attempt(): Promise<void> {
    const { log } = this.#o;
    try {
      const kv = await this.#openOnce();
      this.#handle.swap(kv);
      if (this.#reason !== null) log.info("kv opened after all", { attempts: this.#attempts + 1 });
      this.#reason = null;
      this.#error = null;
      log.info("kv opened", { source: this.source, ...this.#where() });
    } catch (error) {
      this.#reason = reasonOf(error, this.source);
      this.#error = error instanceof Error ? error.message : String(error);
      this.#attempts++;
      // A runtime without KV, or a deployment without a database, stays so until redeployed.
      this.#retrying = !(error instanceof NoKvApiError || NO_DATABASE.test(this.#error));
      log.error("kv could not be opened; serving without it", {
        source: this.source,
        ...this.#where(),
        reason: this.#reason,
        attempts: this.#attempts,
        retrying: this.#retrying,
      });
      const retry = this.#o.retry ?? { minMs: 1_000, maxMs: 60_000 };
      const wait = Math.min(retry.maxMs, retry.minMs * 2 ** Math.min(this.#attempts - 1, 16));
      if (!this.#closed && this.#retrying) {
        this.#timer = setTimeout(() => void this.#attempt(), wait);
        Deno.unrefTimer(this.#timer);
      }
    }
  }

  /** Where the store is, for logs (a remote URL without its path, which may name a database). */
  #where(): Record<string, string> {
    if (this.source === "path") return { path: this.#o.path! };
    if (this.source === "url") return { host: new URL(this.#o.url!).host };
    return {};
  }

  async #openOnce(): Promise<Deno.Kv> {
    const open = "open" in this.#o ? this.#o.open : defaultOpener();
    if (open === undefined) throw new NoKvApiError();
    if (this.source === "url") {
      // Deno Deploy reserves `DENO_` names, so the token may come as KV_ACCESS_TOKEN instead.
      const token = this.#o.env.DENO_KV_ACCESS_TOKEN || this.#o.env.KV_ACCESS_TOKEN;
      if (!token) throw new MissingTokenError();
      if (!this.#o.env.DENO_KV_ACCESS_TOKEN) {
        (this.#o.setEnv ?? ((n, v) => Deno.env.set(n, v)))("DENO_KV_ACCESS_TOKEN", token);
      }
      return await open(this.#o.url);
    }
    if (this.source === "path") {
      const path = this.#o.path!;
      if (path !== ":memory:" && path.includes("/")) {
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      }
      return await open(path);
    }
    return await open();
  }
}

class NoKvApiError extends Error {}
/** The runtime's refusal when the platform attached no database (denoland/deno#35671). */
const NO_DATABASE = /no KV database is attached/i;
class MissingTokenError extends Error {}

/** `Deno.openKv`, or undefined when the runtime does not expose it. */
function defaultOpener(): ((path?: string) => Promise<Deno.Kv>) | undefined {
  const open = (Deno as { openKv?: (path?: string) => Promise<Deno.Kv> }).openKv;
  return typeof open === "function" ? open.bind(Deno) : undefined;
}

/** A reason for health and logs: what went wrong and what to do, without addresses. */
function reasonOf(error: unknown, source: KvSource): string {
  if (error instanceof NoKvApiError) {
    return "no Deno KV: this runtime has no Deno.openKv (on Deno Deploy, assign a KV database " +
      "to the app; elsewhere, run with deno.json's unstable kv)";
  }
  if (error instanceof MissingTokenError) {
    return "KV_URL is set but neither DENO_KV_ACCESS_TOKEN nor KV_ACCESS_TOKEN is";
  }
  const message = error instanceof Error ? error.message : String(error);
  if (NO_DATABASE.test(message)) {
    return "no KV database is assigned to this app on Deno Deploy (assign one in the " +
      "dashboard's Databases page, then redeploy)";
  }
  const what = source === "url"
    ? "the remote KV (KV_URL)"
    : source === "path"
    ? "KV_PATH"
    : "the platform's KV";
  // Connection errors name hosts and ports: health is public, so only their kind is kept.
  const kind = /connect|dns|refused|timed? ?out|unreachable/i.test(message)
    ? "cannot be reached"
    : /token|unauthori[sz]ed|forbidden|401|403/i.test(message)
    ? "refused the access token"
    : "could not be opened";
  return `${what} ${kind}`;
}

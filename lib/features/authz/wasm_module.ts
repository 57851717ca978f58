/**
 * The host side of the authorization module's ABI: compiles the module once, keeps one instance,
 * writes each decision's JSON into a buffer the module allocated, and reads the answer back.
 * Anything the module does wrong (a trap, an answer that is not JSON of the right shape, a
 * pointer outside its memory) is a {@linkcode ModuleFault}; after a trap the instance is replaced.
 */

import { type MemoryLimits, memoryLimits } from "./wasm_binary.ts";

/** The decision input, exactly as the module receives it (UTF-8 JSON). */
export interface DecisionInput {
  user_id: string | null;
  roles: string[];
  action: string;
  resource: string;
  country: string | null;
  rate: { remaining: number; limit: number; reset_s: number };
}

/** The module's answer. */
export interface Decision {
  allowed: boolean;
  status: number;
  reason: string;
  code: string;
}

/** Why a decision could not be made. */
export type FaultKind = "trap" | "malformed" | "unavailable" | "input_too_large";

/** The module failed to decide; the caller denies (or fails open where configured). */
export class ModuleFault extends Error {
  readonly kind: FaultKind;
  constructor(kind: FaultKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ModuleFault";
    this.kind = kind;
  }
}

/** A module that cannot be used at all (bad binary, missing exports, memory over the cap). */
export class ModuleLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ModuleLoadError";
  }
}

/** Limits the host puts on a module. */
export interface PolicyModuleOptions {
  /** Largest memory (64 KiB pages) a module may declare or grow to. */
  maxMemoryPages: number;
  /** Largest decision input in bytes; also the size of the reused input buffer. */
  maxInputBytes: number;
  /** Largest answer in bytes. */
  maxOutputBytes?: number;
}

interface Exports {
  memory: WebAssembly.Memory;
  alloc(len: number): number;
  dealloc(ptr: number, len: number): void;
  authorize(ptr: number, len: number): unknown;
  load_policy?: (ptr: number, len: number) => unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function fail(kind: FaultKind, message: string, cause?: unknown): never {
  throw new ModuleFault(kind, message, { cause });
}

/** One loaded policy module. */
export class PolicyModule {
  readonly #module: WebAssembly.Module;
  readonly #imports: WebAssembly.Imports;
  readonly #options: Required<PolicyModuleOptions>;
  #exports: Exports | null = null;
  #buffer: ArrayBufferLike = new ArrayBuffer(0);
  #bytes: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  #inputPtr = 0;
  #policy: string | null = null;
  /** How many times the instance was replaced after a trap. */
  restarts = 0;

  private constructor(
    module: WebAssembly.Module,
    options: Required<PolicyModuleOptions>,
    memory: MemoryLimits,
  ) {
    this.#module = module;
    this.#options = options;
    this.#imports = importsFor(module, options, memory);
  }

  /**
   * Compiles and instantiates a module, checking its imports, exports and memory cap. `compiled`
   * is `bytes` already compiled (with `WebAssembly.compile`), so only the checks and the
   * instantiation remain.
   */
  static load(
    bytes: Uint8Array,
    options: PolicyModuleOptions,
    compiled?: WebAssembly.Module,
  ): PolicyModule {
    const opts = { maxOutputBytes: 64 * 1024, ...options };
    let limits;
    try {
      limits = memoryLimits(bytes);
    } catch (e) {
      throw new ModuleLoadError(`Not a valid WebAssembly module: ${(e as Error).message}`);
    }
    if (limits.length !== 1) {
      throw new ModuleLoadError(`Module must have exactly one memory, has ${limits.length}`);
    }
    const [mem] = limits;
    if (!mem.imported && mem.maximum === null) {
      throw new ModuleLoadError("Module memory declares no maximum (build with --maximumMemory)");
    }
    const declared = mem.maximum ?? mem.initial;
    if (!mem.imported && declared > opts.maxMemoryPages) {
      throw new ModuleLoadError(
        `Module memory maximum of ${declared} pages exceeds the cap: ${opts.maxMemoryPages}`,
      );
    }
    if (mem.initial > opts.maxMemoryPages) {
      throw new ModuleLoadError(`Module needs ${mem.initial} pages, over the cap`);
    }
    let module: WebAssembly.Module;
    try {
      module = compiled ?? new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new ModuleLoadError(`Module does not compile: ${(e as Error).message}`, { cause: e });
    }
    const m = new PolicyModule(module, opts, mem);
    try {
      m.#instantiate();
    } catch (e) {
      throw new ModuleLoadError(`Module cannot start: ${(e as Error).message}`, { cause: e });
    }
    return m;
  }

  /** Whether the module takes a policy (`load_policy`); without it, it carries its own. */
  get acceptsPolicy(): boolean {
    return this.#exports?.load_policy !== undefined || this.#exports === null;
  }

  /** False after a trap whose restart failed (calls fail until a restart succeeds). */
  get running(): boolean {
    return this.#exports !== null;
  }

  /** Memory in use, in bytes. */
  get memoryBytes(): number {
    return this.#exports?.memory.buffer.byteLength ?? 0;
  }

  #instantiate(): void {
    this.#exports = null;
    const instance = new WebAssembly.Instance(this.#module, this.#imports);
    const ex = instance.exports as Record<string, unknown>;
    const memory = ex.memory ?? (this.#imports.env as Record<string, unknown> | undefined)?.memory;
    if (!(memory instanceof WebAssembly.Memory)) throw new Error("Module exports no memory");
    for (const name of ["alloc", "dealloc", "authorize"]) {
      if (typeof ex[name] !== "function") throw new Error(`Module does not export ${name}()`);
    }
    if (ex.load_policy !== undefined && typeof ex.load_policy !== "function") {
      throw new Error("Module export load_policy is not a function");
    }
    const exports = { ...ex, memory } as unknown as Exports;
    const ptr = exports.alloc(this.#options.maxInputBytes) >>> 0;
    this.#exports = exports;
    this.#refresh();
    if (ptr === 0 || ptr + this.#options.maxInputBytes > this.#buffer.byteLength) {
      this.#exports = null;
      throw new Error(`alloc(${this.#options.maxInputBytes}) returned an unusable pointer: ${ptr}`);
    }
    this.#inputPtr = ptr;
  }

  /** Views are re-created whenever the memory grew (growth detaches the old buffer). */
  #refresh(): void {
    const buffer = this.#exports!.memory.buffer;
    if (buffer !== this.#buffer) {
      if (buffer.byteLength > this.#options.maxMemoryPages * 65536) {
        fail("trap", `Module memory grew past the cap: ${buffer.byteLength} bytes`);
      }
      this.#buffer = buffer;
      this.#bytes = new Uint8Array(buffer);
    }
  }

  /** Replaces a trapped instance; the module stays unavailable if that fails. */
  #restart(): void {
    this.restarts++;
    this.#instantiate();
    if (this.#policy !== null) {
      const result = this.#callPolicy(this.#policy);
      if (!result.ok) throw new Error(`Policy rejected after restart: ${result.error}`);
    }
  }

  #call(name: "authorize" | "load_policy", json: string): string {
    const what = `${name}()`;
    if (this.#exports === null) {
      try {
        this.#restart();
      } catch (e) {
        fail("unavailable", `Module is not running: ${(e as Error).message}`, e);
      }
    }
    this.#refresh();
    const ptr = this.#inputPtr;
    const cap = this.#options.maxInputBytes;
    const { read, written } = encoder.encodeInto(json, this.#bytes.subarray(ptr, ptr + cap));
    if (read < json.length) fail("input_too_large", `Input over ${cap} bytes`);
    let result: unknown;
    try {
      result = this.#exports![name]!(ptr, written);
    } catch (e) {
      this.#exports = null; // its state may be inconsistent: replace it before the next call
      try {
        this.#restart();
      } catch {
        // stays unavailable; the next call tries again
      }
      fail("trap", `Module trapped in ${what}: ${(e as Error).message}`, e);
    }
    this.#refresh();
    if (typeof result !== "bigint") fail("malformed", `${what} did not return an i64`);
    const outPtr = Number(result >> 32n);
    const outLen = Number(result & 0xffffffffn);
    if (outLen > this.#options.maxOutputBytes || outPtr + outLen > this.#buffer.byteLength) {
      fail("malformed", `${what} returned bytes outside its memory: ${outPtr}+${outLen}`);
    }
    try {
      return decoder.decode(this.#bytes.subarray(outPtr, outPtr + outLen));
    } catch (e) {
      return fail("malformed", `${what} returned invalid UTF-8`, e);
    }
  }

  #callPolicy(json: string): { ok: true } | { ok: false; error: string } {
    const ex = this.#exports;
    if (ex === null || ex.load_policy === undefined) return { ok: true };
    const text = this.#call("load_policy", json);
    let out: unknown;
    try {
      out = JSON.parse(text);
    } catch (e) {
      fail("malformed", "load_policy() returned invalid JSON", e);
    }
    const o = out as { ok?: unknown; error?: unknown };
    if (o?.ok === true) return { ok: true };
    if (o?.ok === false) return { ok: false, error: String(o.error ?? "rejected").slice(0, 500) };
    return fail("malformed", "load_policy() returned neither ok:true nor ok:false");
  }

  /** Loads policy JSON into the module; kept and re-applied after a restart when accepted. */
  loadPolicy(json: string): { ok: true } | { ok: false; error: string } {
    const result = this.#callPolicy(json);
    if (result.ok) this.#policy = json;
    return result;
  }

  /** Asks the module for a decision. */
  authorize(input: DecisionInput): Decision {
    const text = this.#call("authorize", JSON.stringify(input));
    let out: Decision;
    try {
      out = JSON.parse(text);
    } catch (e) {
      return fail("malformed", `authorize() returned invalid JSON: ${text.slice(0, 100)}`, e);
    }
    if (
      typeof out !== "object" || out === null || typeof out.allowed !== "boolean" ||
      !Number.isInteger(out.status) || typeof out.reason !== "string" ||
      typeof out.code !== "string"
    ) {
      fail("malformed", `authorize() returned the wrong shape: ${text.slice(0, 100)}`);
    }
    return out;
  }
}

/** What the host offers a module: only `env.abort` (AssemblyScript's) and `env.memory`. */
function importsFor(
  module: WebAssembly.Module,
  options: Required<PolicyModuleOptions>,
  memory: MemoryLimits,
): WebAssembly.Imports {
  const env: Record<string, WebAssembly.ImportValue> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module === "env" && imp.name === "abort" && imp.kind === "function") {
      env.abort = () => {
        throw new WebAssembly.RuntimeError("Module called abort()");
      };
    } else if (imp.module === "env" && imp.name === "memory" && imp.kind === "memory") {
      const maximum = Math.min(memory.maximum ?? options.maxMemoryPages, options.maxMemoryPages);
      env.memory = new WebAssembly.Memory({ initial: memory.initial, maximum });
    } else {
      throw new ModuleLoadError(`Module imports ${imp.module}.${imp.name}, which is not provided`);
    }
  }
  return { env };
}

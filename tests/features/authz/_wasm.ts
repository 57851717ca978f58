/** Builds tiny WebAssembly modules from bytes, for tests of a misbehaving policy module. */

type ValType = "i32" | "i64";
const TYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e };

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 64-bit value. */
export function sleb(v: bigint): number[] {
  const out: number[] = [];
  while (true) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

function str(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** One exported function: its signature and body (instructions, without the final `end`). */
export interface Func {
  name: string;
  params: ValType[];
  results: ValType[];
  body: number[];
}

/** What to build. */
export interface ModuleSpec {
  funcs: Func[];
  /** Memory limits in pages; null for no memory. */
  memory?: { min: number; max?: number } | null;
  /** Import the memory as env.memory instead of declaring and exporting it. */
  importMemory?: boolean;
  /** Extra function imports (module, name), type () -> (). */
  importFuncs?: [string, string][];
  data?: { offset: number; bytes: Uint8Array }[];
}

/** Encodes a module. */
export function buildModule(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const memory = spec.memory === undefined ? { min: 1, max: 2 } : spec.memory;
  const imports = spec.importFuncs ?? [];
  const types = [
    [0x60, 0, 0],
    ...spec.funcs.map((f) => [
      0x60,
      ...vec(f.params.map((p) => [TYPE[p]])),
      ...vec(f.results.map((r) => [TYPE[r]])),
    ]),
  ];
  const limits = (m: { min: number; max?: number }) =>
    m.max === undefined ? [0, ...uleb(m.min)] : [1, ...uleb(m.min), ...uleb(m.max)];
  const importEntries = imports.map(([m, n]) => [...str(m), ...str(n), 0, 0]);
  if (memory && spec.importMemory) {
    importEntries.push([...str("env"), ...str("memory"), 2, ...limits(memory)]);
  }
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0, 0, 0];
  out.push(...section(1, vec(types)));
  if (importEntries.length) out.push(...section(2, vec(importEntries)));
  out.push(...section(3, vec(spec.funcs.map((_, i) => uleb(i + 1)))));
  if (memory && !spec.importMemory) out.push(...section(5, vec([limits(memory)])));
  const exports = spec.funcs.map((f, i) => [...str(f.name), 0, ...uleb(imports.length + i)]);
  if (memory && !spec.importMemory) exports.push([...str("memory"), 2, 0]);
  out.push(...section(7, vec(exports)));
  out.push(...section(
    10,
    vec(spec.funcs.map((f) => {
      const body = [0, ...f.body, 0x0b];
      return [...uleb(body.length), ...body];
    })),
  ));
  if (spec.data?.length) {
    out.push(...section(
      11,
      vec(spec.data.map((d) => [
        0,
        0x41,
        ...sleb(BigInt(d.offset)),
        0x0b,
        ...uleb(d.bytes.length),
        ...d.bytes,
      ])),
    ));
  }
  return new Uint8Array(out);
}

/** `i64.const (ptr << 32 | len)`. */
export function packed(ptr: number, len: number): number[] {
  return [0x42, ...sleb(BigInt.asIntN(64, (BigInt(ptr) << 32n) | BigInt(len)))];
}

/** The ABI's functions around an `authorize` body; alloc hands out offset 1024. */
export function abiModule(
  authorizeBody: number[],
  extra: Partial<ModuleSpec> = {},
): Uint8Array<ArrayBuffer> {
  const { funcs = [], ...rest } = extra;
  return buildModule({
    ...rest,
    funcs: [
      { name: "alloc", params: ["i32"], results: ["i32"], body: [0x41, ...sleb(1024n)] },
      { name: "dealloc", params: ["i32", "i32"], results: [], body: [] },
      { name: "authorize", params: ["i32", "i32"], results: ["i64"], body: authorizeBody },
      ...funcs,
    ],
  });
}

/** A module whose authorize() answers the given text (placed at offset 64). */
export function answering(text: string, extra: Partial<ModuleSpec> = {}): Uint8Array<ArrayBuffer> {
  return answeringBytes(new TextEncoder().encode(text), extra);
}

/** A module whose authorize() answers the given bytes (placed at offset 64). */
export function answeringBytes(
  bytes: Uint8Array,
  extra: Partial<ModuleSpec> = {},
): Uint8Array<ArrayBuffer> {
  return abiModule(packed(64, bytes.length), { data: [{ offset: 64, bytes }], ...extra });
}

/** Instructions: trap. */
export const UNREACHABLE = [0x00];

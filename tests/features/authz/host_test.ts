import assert from "node:assert/strict";
import {
  ModuleFault,
  ModuleLoadError,
  PolicyModule,
} from "../../../lib/features/authz/wasm_module.ts";
import { memoryLimits } from "../../../lib/features/authz/wasm_binary.ts";
import { abiModule, answering, answeringBytes, buildModule, packed, UNREACHABLE } from "./_wasm.ts";
import { WASM } from "./_fixtures.ts";

const LIMITS = { maxMemoryPages: 4, maxInputBytes: 4096 };
const INPUT = {
  user_id: "u",
  roles: [],
  action: "a:b",
  resource: "/",
  country: null,
  rate: { remaining: 1, limit: 1, reset_s: 0 },
};
const OK = '{"allowed":true,"status":200,"reason":"ok","code":"ok"}';

function fault(fn: () => unknown, kind: string): void {
  assert.throws(fn, (e) => e instanceof ModuleFault && e.kind === kind);
}

Deno.test("memoryLimits() reads declared and imported memories", () => {
  assert.deepEqual(memoryLimits(buildModule({ funcs: [], memory: { min: 1, max: 3 } })), [
    { initial: 1, maximum: 3, imported: false },
  ]);
  assert.deepEqual(
    memoryLimits(buildModule({ funcs: [], memory: { min: 2 }, importMemory: true })),
    [{ initial: 2, maximum: null, imported: true }],
  );
  const real = memoryLimits(WASM);
  assert.equal(real.length, 1);
  assert.equal(real[0].maximum, 32);
  assert.throws(() => memoryLimits(new Uint8Array([1, 2, 3])), RangeError);
  assert.throws(() => memoryLimits(WASM.slice(0, 40)), RangeError);
});

Deno.test("PolicyModule.load() refuses modules it cannot run safely", async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["not wasm", new TextEncoder().encode("hello world"), /Not a valid WebAssembly module/],
    ["no maximum", answering(OK, { memory: { min: 1 } }), /declares no maximum/],
    ["maximum over the cap", answering(OK, { memory: { min: 1, max: 5 } }), /exceeds the cap: 4/],
    ["no memory", answering(OK, { memory: null }), /exactly one memory, has 0/],
    [
      "unknown import",
      answering(OK, { importFuncs: [["wasi", "fd_write"]] }),
      /imports wasi\.fd_write/,
    ],
    [
      "missing authorize",
      buildModule({
        funcs: [{ name: "alloc", params: ["i32"], results: ["i32"], body: [0x41, 0] }],
      }),
      /does not export/,
    ],
    [
      "alloc returns 0",
      buildModule({
        funcs: [
          { name: "alloc", params: ["i32"], results: ["i32"], body: [0x41, 0] },
          { name: "dealloc", params: ["i32", "i32"], results: [], body: [] },
          { name: "authorize", params: ["i32", "i32"], results: ["i64"], body: packed(0, 0) },
        ],
      }),
      /unusable pointer/,
    ],
  ];
  for (const [name, bytes, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => PolicyModule.load(bytes, LIMITS), (e) => {
        assert.ok(e instanceof ModuleLoadError, String(e));
        assert.match(e.message, message);
        return true;
      });
    });
  }
  await t.step("an imported memory is given the cap as its maximum", () => {
    const m = PolicyModule.load(answering(OK, { importMemory: true, memory: { min: 1 } }), LIMITS);
    assert.equal(m.authorize(INPUT).allowed, true);
  });
});

Deno.test("PolicyModule.authorize() turns misbehaviour into faults", async (t) => {
  const cases: [string, Uint8Array, string][] = [
    ["a trap", abiModule(UNREACHABLE), "trap"],
    ["garbage output", answering("not json at all"), "malformed"],
    ["invalid UTF-8", answeringBytes(new Uint8Array([0x22, 0xff, 0xfe, 0x22])), "malformed"],
    ["JSON of the wrong shape", answering('{"allowed":"yes","status":200}'), "malformed"],
    ["a JSON array", answering("[1,2]"), "malformed"],
    ["a pointer outside memory", abiModule(packed(200_000, 10)), "malformed"],
    ["a huge length", abiModule(packed(0, 0xffffffff)), "malformed"],
  ];
  for (const [name, bytes, kind] of cases) {
    await t.step(name, () => {
      const m = PolicyModule.load(bytes, LIMITS);
      fault(() => m.authorize(INPUT), kind);
      fault(() => m.authorize(INPUT), kind); // and again: the host keeps going
    });
  }
  await t.step("an input over the buffer is refused before the module sees it", () => {
    const m = PolicyModule.load(answering(OK), LIMITS);
    fault(() => m.authorize({ ...INPUT, resource: "x".repeat(5000) }), "input_too_large");
    assert.equal(m.authorize(INPUT).allowed, true);
  });
  await t.step("a wrong return type is malformed, not a crash", () => {
    const bytes = buildModule({
      funcs: [
        { name: "alloc", params: ["i32"], results: ["i32"], body: [0x41, 0x80, 0x08] },
        { name: "dealloc", params: ["i32", "i32"], results: [], body: [] },
        { name: "authorize", params: ["i32", "i32"], results: ["i32"], body: [0x41, 0] },
      ],
    });
    fault(() => PolicyModule.load(bytes, LIMITS).authorize(INPUT), "malformed");
  });
});

Deno.test("PolicyModule replaces a trapped instance and re-applies the policy", () => {
  const enc = new TextEncoder();
  const withPolicy = enc.encode('{"allowed":true,"status":200,"reason":"r","code":"policy"}');
  const without = enc.encode('{"allowed":true,"status":200,"reason":"r","code":"none"}');
  const ok = enc.encode('{"ok":true}');
  // authorize traps on inputs over 1000 bytes; otherwise it answers "policy" once load_policy
  // has set the flag byte at 32, "none" before.
  const authorize = [
    0x20,
    0x01,
    0x41,
    0xe8,
    0x07,
    0x4b,
    0x04,
    0x40,
    0x00,
    0x0b, // len > 1000 → unreachable
    0x41,
    0x20,
    0x2d,
    0x00,
    0x00, // i32.load8_u [32]
    0x04,
    0x7e,
    ...packed(64, withPolicy.length),
    0x05,
    ...packed(128, without.length),
    0x0b,
  ];
  const loadPolicy = [0x41, 0x20, 0x41, 0x01, 0x3a, 0x00, 0x00, ...packed(192, ok.length)];
  const m = PolicyModule.load(
    abiModule(authorize, {
      funcs: [{ name: "load_policy", params: ["i32", "i32"], results: ["i64"], body: loadPolicy }],
      data: [
        { offset: 64, bytes: withPolicy },
        { offset: 128, bytes: without },
        { offset: 192, bytes: ok },
      ],
    }),
    LIMITS,
  );
  assert.equal(m.acceptsPolicy, true);
  assert.equal(m.authorize(INPUT).code, "none");
  assert.deepEqual(m.loadPolicy("{}"), { ok: true });
  assert.equal(m.authorize(INPUT).code, "policy");
  fault(() => m.authorize({ ...INPUT, resource: "x".repeat(2000) }), "trap");
  assert.equal(m.restarts, 1);
  assert.equal(m.authorize(INPUT).code, "policy", "the new instance got the policy again");
});

Deno.test("PolicyModule re-creates its views after the memory grows", () => {
  // authorize grows memory by one page each call, then answers from offset 64.
  const text = new TextEncoder().encode(OK);
  const body = [0x41, 0x01, 0x40, 0x00, 0x1a, ...packed(64, text.length)];
  const m = PolicyModule.load(
    abiModule(body, { data: [{ offset: 64, bytes: text }], memory: { min: 1, max: 4 } }),
    LIMITS,
  );
  assert.equal(m.memoryBytes, 65536);
  for (let i = 0; i < 3; i++) assert.equal(m.authorize(INPUT).allowed, true);
  assert.equal(m.memoryBytes, 4 * 65536);
  // At the cap memory.grow returns -1 and the module keeps answering.
  assert.equal(m.authorize(INPUT).allowed, true);
});

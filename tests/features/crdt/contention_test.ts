import assert from "node:assert/strict";
import { createApp, type Edge } from "../../../lib/core/app.ts";
import { ManualClock } from "../../../lib/core/clock.ts";
import { setContextKey } from "../../../lib/features/crdt/keys.ts";
import { deadOrigin, makeConfig } from "../../helpers.ts";

function add(edge: Edge, set: string, element: string): Promise<number> {
  const req = new Request(`http://edge.test/crdt/sets/${set}/add`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ element }),
  });
  return Promise.resolve(edge.fetch(req)).then(async (res) => {
    await res.body?.cancel();
    return res.status;
  });
}

async function elements(edge: Edge, set: string): Promise<string[]> {
  const res = await edge.fetch(new Request(`http://edge.test/crdt/sets/${set}`));
  return ((await res.json()) as { elements: string[] }).elements;
}

function tally(statuses: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
}

Deno.test("200 concurrent adds to one set all succeed (no 503 from contention)", async () => {
  await using kv = await Deno.openKv(":memory:");
  const edge = createApp({ config: makeConfig(deadOrigin()), kv, clock: new ManualClock() });
  try {
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => add(edge, "crowd", `e${i}`)),
    );
    assert.deepEqual(tally(statuses), { 200: 200 });
    assert.equal((await elements(edge, "crowd")).length, 200);
  } finally {
    await edge.close();
  }
});

/**
 * A KV handle on which every other commit loses a real race: just before it, another writer
 * (another isolate, in production) rewrites the set's head, so the commit's check fails.
 */
function racingKv(real: Deno.Kv, set: string): Deno.Kv {
  let commits = 0;
  const head = setContextKey(set);
  const wrapOp = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    const wrapper: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        if (prop === "commit") {
          return async () => {
            if (commits++ % 2 === 0) {
              const current = await real.get(head);
              if (current.value !== null) await real.set(head, current.value);
            }
            return target.commit();
          };
        }
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          value.apply(target, args);
          return wrapper;
        };
      },
    });
    return wrapper;
  };
  return new Proxy(real, {
    get(target, prop) {
      if (prop === "atomic") return () => wrapOp(target.atomic());
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("concurrent adds that keep losing races to other writers all land", async () => {
  await using real = await Deno.openKv(":memory:");
  const kv = racingKv(real, "raced");
  const edge = createApp({ config: makeConfig(deadOrigin()), kv, clock: new ManualClock() });
  try {
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => add(edge, "raced", `e${i}`)),
    );
    assert.deepEqual(tally(statuses), { 200: 200 });
    assert.equal((await elements(edge, "raced")).length, 200);
    const text = edge.monitor.prometheus();
    const conflicts = text.match(
      /^outpost_crdt_cas_conflicts_total\{[^}]*type="set"[^}]*\} (\d+)/m,
    );
    assert.ok(conflicts && Number(conflicts[1]) >= 190, `lost races were retried: ${conflicts}`);
  } finally {
    await edge.close();
  }
});

/** Fixtures for the cache tests: entries, timings and a KV wrapper that counts or fails calls. */

import type { StoredEntry } from "../../../lib/features/cache/entry.ts";
import type { EntryTiming } from "../../../lib/features/cache/freshness.ts";

/** A timing fresh for a minute from `now`. */
export function makeTiming(now: number, o: Partial<EntryTiming> = {}): EntryTiming {
  return {
    responseTime: now,
    initialAgeMs: 0,
    freshMs: 60_000,
    swrMs: 0,
    sieMs: 0,
    noCache: false,
    mustRevalidate: false,
    sMaxAge: false,
    authOk: false,
    keepMs: 0,
    ...o,
  };
}

/** A stored entry for `key` with a body of `size` bytes. */
export function makeEntry(key: string, size: number, o: Partial<StoredEntry> = {}): StoredEntry {
  return {
    key,
    variant: "",
    status: 200,
    headers: [["content-type", "text/plain"], ["etag", '"e1"']],
    timing: makeTiming(Date.UTC(2026, 0, 1)),
    vary: [],
    tags: [],
    size,
    version: `v-${crypto.randomUUID().slice(0, 8)}`,
    chunks: 0,
    ...o,
  };
}

/** Bytes whose content depends on `seed` (so a mix of two bodies is detectable). */
export function makeBody(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7) % 251;
  return out;
}

/** Calls made through a {@linkcode wrapKv} proxy, by method. */
export type KvCalls = Record<string, number>;

/**
 * A Deno.Kv proxy that counts calls and, while `fail` says so, throws from them (or from an
 * atomic commit). Methods keep the real KV as `this`.
 */
export function wrapKv(
  kv: Deno.Kv,
  fail: (method: string) => boolean = () => false,
): { kv: Deno.Kv; calls: KvCalls } {
  const calls: KvCalls = {};
  const proxy = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        if (fail(prop)) {
          if (prop === "list" || prop === "watch") throw new Error(`kv ${prop} is down`);
          return Promise.reject(new Error(`kv ${prop} is down`));
        }
        const out = value.apply(target, args);
        if (prop !== "atomic") return out;
        const op = out as Deno.AtomicOperation;
        const commit = op.commit.bind(op);
        op.commit = () => {
          calls["commit"] = (calls["commit"] ?? 0) + 1;
          return fail("commit") ? Promise.reject(new Error("kv commit failed")) : commit();
        };
        return op;
      };
    },
  });
  return { kv: proxy, calls };
}

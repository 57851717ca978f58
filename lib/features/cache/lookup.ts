/**
 * Finding a stored response: the memory tier first, then KV (promoting what it finds into
 * memory). Vary markers pick the variant from the request's headers. KV failures are misses.
 *
 * KV is read with eventual consistency: on Deno Deploy that is the nearest read replica instead
 * of the primary in us-east4, and a replica's lag only delays what a purge or a new entry changes
 * by that much (purges also reach memory through the purge log). A torn read (a body the replica
 * does not have in full yet) is read again strongly; an item read while a purge ran is served
 * but not kept.
 */

import type { Clock } from "../../core/clock.ts";
import type { Filler } from "./fill.ts";
import { isRetained } from "./freshness.ts";
import { varyValues } from "./key.ts";
import { kvSlot } from "./keys.ts";
import type { KvStore } from "./kv_store.ts";
import { type MemoryItem, type MemoryTier, variantKey } from "./memory.ts";
import type { CacheStats } from "./stats.ts";

/** What a lookup found. */
export interface Lookup {
  item: MemoryItem | null;
  /** The Vary values of this request when the URL's Vary is known, else null. */
  variant: string | null;
}

/** Collaborators of {@linkcode Lookups}. */
export interface LookupsOptions {
  memory: MemoryTier;
  store: KvStore;
  filler: Filler;
  clock: Clock;
  stats: CacheStats;
}

/** Looks entries up in both tiers. */
export class Lookups {
  readonly #o: LookupsOptions;

  constructor(options: LookupsOptions) {
    this.#o = options;
  }

  /** Memory first, then KV. */
  async find(urlKey: string, headers: Headers): Promise<Lookup> {
    const { store, memory, filler, clock, stats } = this.#o;
    const get = (n: string) => headers.get(n);
    const mem = this.fromMemory(urlKey, get);
    if (mem.item !== null) return mem;
    const now = clock.now();
    const epoch = memory.epoch;
    try {
      return await store.within(async () => {
        let slot = await kvSlot(urlKey, "");
        let read = await store.readMeta(slot, "eventual");
        let variant: string | null = mem.variant;
        if (read.value?.kind === "vary") {
          variant = varyValues(read.value.vary, get);
          memory.setVary(urlKey, read.value.vary);
          slot = await kvSlot(urlKey, variant);
          read = await store.readMeta(slot, "eventual");
        }
        if (read.value?.kind === "entry" && isRetained(read.value.entry.timing, now)) {
          let item = await filler.load(read.value, "eventual");
          if (item === null) {
            // The replica may not have every chunk yet: the primary decides.
            const strong = await store.readMeta(slot, "strong");
            if (strong.value?.kind === "entry" && isRetained(strong.value.entry.timing, now)) {
              item = await filler.load(strong.value, "strong");
            }
          }
          if (item === null) stats.tornRead();
          else {
            if (memory.epoch === epoch) memory.setEntry(item);
            return { item, variant: item.entry.variant === "" ? null : item.entry.variant };
          }
        }
        // A fill may have finished while KV was read.
        const again = this.fromMemory(urlKey, get);
        return again.item !== null ? again : { item: null, variant };
      });
    } catch (error) {
      stats.kvError("read", error);
      return mem;
    }
  }

  /** The memory tier alone. */
  fromMemory(urlKey: string, get: (n: string) => string | null): Lookup {
    const { memory, clock } = this.#o;
    const found = memory.get(urlKey);
    if (found === undefined) return { item: null, variant: null };
    if (found.kind === "entry") {
      return isRetained(found.entry.timing, clock.now())
        ? { item: found, variant: null }
        : { item: null, variant: null };
    }
    const variant = varyValues(found.vary, get);
    const entry = memory.get(variantKey(urlKey, variant));
    if (entry?.kind === "entry" && isRetained(entry.entry.timing, clock.now())) {
      return { item: entry, variant };
    }
    return { item: null, variant };
  }
}

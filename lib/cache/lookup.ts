/**
 * Finding a stored response: the memory tier first, then KV (promoting what it finds into
 * memory). Vary markers pick the variant from the request's headers. KV failures are misses.
 */

import type { Clock } from "../clock.ts";
import type { Filler } from "./fill.ts";
import { isRetained } from "./freshness.ts";
import { varyValues } from "./key.ts";
import { kvSlot } from "./keys.ts";
import type { KvStore, SlotRead } from "./kv_store.ts";
import { type MemoryItem, type MemoryTier, variantKey } from "./memory.ts";
import type { CacheStats } from "./stats.ts";

/** What a lookup found. */
export interface Lookup {
  item: MemoryItem | null;
  /** The Vary values of this request when the URL's Vary is known, else null. */
  variant: string | null;
  /**
   * What KV said of the slot a fill for this request would use (its variant, `""` for none):
   * read once here, so a fill that follows needs no second round trip.
   */
  kv?: { variant: string; read: SlotRead };
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
    try {
      return await store.within(async () => {
        // The metadata, the purge head and the lease in one round trip (see `KvStore.readSlot`).
        let slot = await store.readSlot(await kvSlot(urlKey, ""));
        let slotVariant = "";
        let variant: string | null = mem.variant;
        if (slot.meta.value?.kind === "vary") {
          variant = varyValues(slot.meta.value.vary, get);
          memory.setVary(urlKey, slot.meta.value.vary);
          slot = await store.readSlot(await kvSlot(urlKey, variant));
          slotVariant = variant;
        }
        const read = slot.meta;
        if (read.value?.kind === "entry" && isRetained(read.value.entry.timing, now)) {
          const item = await filler.load(read.value);
          if (item === null) stats.tornRead();
          else {
            memory.setEntry(item);
            const found = item.entry.variant === "" ? null : item.entry.variant;
            return { item, variant: found, kv: { variant: slotVariant, read: slot } };
          }
        }
        // A fill may have finished while KV was read.
        const again = this.fromMemory(urlKey, get);
        if (again.item !== null) return again;
        return { item: null, variant, kv: { variant: slotVariant, read: slot } };
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

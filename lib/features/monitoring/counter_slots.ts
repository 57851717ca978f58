/**
 * Increments of a few counters per window slot, from their running totals sampled now and then:
 * what a total gained since the previous sample is put in the slot the sample names. Sampled at
 * every slot change and whenever a snapshot is taken, so an increment lands in its own slot or,
 * at a slot boundary, the one before. A total that went down (a reset) counts from zero.
 */

/** Options for {@linkcode CounterSlots}. */
export interface CounterSlotsOptions {
  /** Slots kept (the window's length in slots). */
  slots: number;
  /** At most this many counters are followed (others are ignored). */
  maxCounters?: number;
}

/** Per-slot increments of named counters in a ring of `slots`. */
export class CounterSlots {
  readonly #n: number;
  readonly #max: number;
  readonly #last = new Map<string, number>();
  readonly #rings = new Map<string, Float64Array>();
  /** The slot number each ring position holds, -1 when unused. */
  readonly #epochs: Float64Array;

  constructor(options: CounterSlotsOptions) {
    const { slots } = options;
    if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError(`Invalid slots: ${slots}`);
    this.#n = slots;
    this.#max = options.maxCounters ?? 16;
    this.#epochs = new Float64Array(slots).fill(-1);
  }

  /** Adds what each total gained since the last sample to slot `epoch`. */
  sample(epoch: number, totals: ReadonlyMap<string, number>): void {
    const pos = ((epoch % this.#n) + this.#n) % this.#n;
    if (this.#epochs[pos] !== epoch) {
      // A newer slot takes the position: what it held is older than the window.
      if (this.#epochs[pos] > epoch) return;
      for (const ring of this.#rings.values()) ring[pos] = 0;
      this.#epochs[pos] = epoch;
    }
    for (const [name, total] of totals) {
      let ring = this.#rings.get(name);
      if (ring === undefined) {
        if (this.#rings.size >= this.#max) continue;
        ring = new Float64Array(this.#n);
        this.#rings.set(name, ring);
      }
      const last = this.#last.get(name) ?? 0;
      const gained = total >= last ? total - last : total;
      this.#last.set(name, total);
      ring[pos] += gained;
    }
  }

  /** Increments per slot for slots `first … first + count - 1`, by counter name. */
  series(first: number, count: number): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [name, ring] of this.#rings) {
      const values = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        const epoch = first + i;
        const pos = ((epoch % this.#n) + this.#n) % this.#n;
        values[i] = this.#epochs[pos] === epoch ? ring[pos] : 0;
      }
      out[name] = values;
    }
    return out;
  }
}

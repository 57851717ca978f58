/**
 * Reads a WebAssembly binary's memory declaration before instantiating it, so that the host can
 * refuse a module whose memory has no maximum or a maximum above its cap (JavaScript cannot ask
 * a `WebAssembly.Memory` for its maximum).
 */

/** A memory's limits in 64 KiB pages; `maximum` is null when the module declares none. */
export interface MemoryLimits {
  initial: number;
  maximum: number | null;
  imported: boolean;
}

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.bytes.length) throw new RangeError("Unexpected end of module");
    return this.bytes[this.pos++];
  }

  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new RangeError("Malformed LEB128 number");
  }

  skip(n: number): void {
    if (this.pos + n > this.bytes.length) throw new RangeError("Unexpected end of module");
    this.pos += n;
  }

  name(): void {
    this.skip(this.u32());
  }

  limits(imported: boolean): MemoryLimits {
    const flags = this.byte();
    if (flags & ~0x07) throw new RangeError(`Unknown memory limits flags: ${flags}`);
    if (flags & 0x04) throw new RangeError("64-bit memories are not supported");
    const initial = this.u32();
    const maximum = flags & 0x01 ? this.u32() : null;
    return { initial, maximum, imported };
  }
}

/** The memories a module declares or imports (throws on a malformed binary). */
export function memoryLimits(bytes: Uint8Array): MemoryLimits[] {
  const r = new Reader(bytes);
  if (
    bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 ||
    bytes[3] !== 0x6d
  ) {
    throw new RangeError("Not a WebAssembly module");
  }
  r.pos = 8;
  const out: MemoryLimits[] = [];
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (end > bytes.length) throw new RangeError("Section runs past the end of the module");
    if (id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        r.name();
        const kind = r.byte();
        if (kind === 0) r.u32(); // function: type index
        else if (kind === 1) { // table: element type + limits
          r.byte();
          const f = r.byte();
          r.u32();
          if (f & 1) r.u32();
        } else if (kind === 2) out.push(r.limits(true));
        else if (kind === 3) r.skip(2); // global: type + mutability
        else if (kind === 4) { // tag: attribute + type index
          r.byte();
          r.u32();
        } else throw new RangeError(`Unknown import kind: ${kind}`);
      }
    } else if (id === 5) {
      for (let n = r.u32(); n > 0; n--) out.push(r.limits(false));
    }
    r.pos = end;
  }
  return out;
}

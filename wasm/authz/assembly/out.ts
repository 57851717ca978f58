// The decision output, written into a static buffer (no allocation on the decision path).

const OUT_SIZE: usize = 2048;
/** Longest span copied into a reason; longer ones are cut at a character boundary. */
const MAX_SPAN: usize = 256;
const OUT = memory.data(<i32> OUT_SIZE);
let len: usize = 0;

/** Starts a new output. */
export function begin(): void {
  len = 0;
}

/** Appends ASCII text (constants only; the caller guarantees no JSON escaping is needed). */
export function text(s: string): void {
  const n = <usize> s.length;
  for (let i: usize = 0; i < n && len < OUT_SIZE; i++) {
    store<u8>(OUT + len++, <u8> s.charCodeAt(<i32> i));
  }
}

/** Appends valid UTF-8 bytes, escaped for a JSON string, cut at `MAX_SPAN` bytes. */
export function span(ptr: usize, n: usize): void {
  if (n > MAX_SPAN) {
    n = MAX_SPAN;
    while (n > 0 && (load<u8>(ptr + n) & 0xc0) == 0x80) n--; // do not split a character
  }
  for (let i: usize = 0; i < n; i++) {
    const c = load<u8>(ptr + i);
    if (len + 6 >= OUT_SIZE) return;
    if (c == 0x22 || c == 0x5c) {
      store<u8>(OUT + len++, 0x5c);
      store<u8>(OUT + len++, c);
    } else if (c < 0x20) {
      text("\\u00");
      store<u8>(OUT + len++, <u8> (0x30 + (c >> 4)));
      const d = c & 15;
      store<u8>(OUT + len++, <u8> (d < 10 ? 0x30 + d : 0x57 + d));
    } else store<u8>(OUT + len++, c);
  }
}

/** Appends a non-negative integer. */
export function integer(v: u64): void {
  if (v >= 10) integer(v / 10);
  if (len < OUT_SIZE) store<u8>(OUT + len++, <u8> (0x30 + <u32> (v % 10)));
}

/** The output packed as the ABI's u64: pointer in the high half, length in the low half. */
export function finish(): u64 {
  return (<u64> OUT << 32) | <u64> len;
}

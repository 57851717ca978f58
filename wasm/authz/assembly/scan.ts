// A streaming JSON scanner over linear memory for the decision path. It allocates nothing: a
// string is a (pointer, length) span into the input, or into a static scratch area when it had
// escapes. Every failure returns false; nothing here can trap on any input bytes.

const SCRATCH_SIZE: usize = 16384;
const SCRATCH = memory.data(<i32> SCRATCH_SIZE);
const MAX_DEPTH = 32;

export let pos: usize = 0;
export let end: usize = 0;
let scratchUsed: usize = 0;

/** The last string read: its UTF-8 bytes. */
export let strPtr: usize = 0;
export let strLen: usize = 0;
/** The last number read. */
export let num: f64 = 0;

/** Starts scanning `len` bytes at `ptr`. */
export function reset(ptr: usize, len: usize): void {
  pos = ptr;
  end = ptr + len;
  scratchUsed = 0;
}

/** The next byte, or -1 at the end. */
export function peek(): i32 {
  return pos < end ? <i32> load<u8>(pos) : -1;
}

/** Skips JSON whitespace. */
export function ws(): void {
  while (pos < end) {
    const c = load<u8>(pos);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return;
    pos++;
  }
}

/** Consumes and returns the next byte after whitespace (-1 at the end). */
export function take(): i32 {
  ws();
  const c = peek();
  pos++;
  return c;
}

/** Consumes `c` (after whitespace) or returns false. */
export function expect(c: i32): bool {
  ws();
  if (peek() != c) return false;
  pos++;
  return true;
}

/** Consumes the literal `null`. */
export function readNull(): bool {
  return literal(0x6c6c756e, 4); // "null" little-endian
}

function literal(word: u32, n: usize): bool {
  if (end - pos < n) return false;
  for (let i: usize = 0; i < n; i++) {
    if (<u32> load<u8>(pos + i) != ((word >> (<u32> i * 8)) & 0xff)) return false;
  }
  pos += n;
  return true;
}

/** Length of the valid UTF-8 sequence at `p` (before `e`), or 0 when invalid. */
function utf8Seq(p: usize, e: usize): usize {
  const b0 = <u32> load<u8>(p);
  if (b0 < 0x80) return 1;
  let n: usize = 0;
  let min: u32 = 0;
  let cp: u32 = 0;
  if ((b0 & 0xe0) == 0xc0) {
    n = 2;
    min = 0x80;
    cp = b0 & 0x1f;
  } else if ((b0 & 0xf0) == 0xe0) {
    n = 3;
    min = 0x800;
    cp = b0 & 0x0f;
  } else if ((b0 & 0xf8) == 0xf0) {
    n = 4;
    min = 0x10000;
    cp = b0 & 0x07;
  } else return 0;
  if (e - p < n) return 0;
  for (let i: usize = 1; i < n; i++) {
    const b = <u32> load<u8>(p + i);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

function putScratch(b: u32): bool {
  if (scratchUsed >= SCRATCH_SIZE) return false;
  store<u8>(SCRATCH + scratchUsed, <u8> b);
  scratchUsed++;
  return true;
}

function putCodePoint(cp: u32): bool {
  if (cp < 0x80) return putScratch(cp);
  if (cp < 0x800) return putScratch(0xc0 | (cp >> 6)) && putScratch(0x80 | (cp & 0x3f));
  if (cp < 0x10000) {
    return putScratch(0xe0 | (cp >> 12)) && putScratch(0x80 | ((cp >> 6) & 0x3f)) &&
      putScratch(0x80 | (cp & 0x3f));
  }
  return putScratch(0xf0 | (cp >> 18)) && putScratch(0x80 | ((cp >> 12) & 0x3f)) &&
    putScratch(0x80 | ((cp >> 6) & 0x3f)) && putScratch(0x80 | (cp & 0x3f));
}

function hex4(): i32 {
  if (end - pos < 4) return -1;
  let code = 0;
  for (let i = 0; i < 4; i++) {
    const c = <i32> load<u8>(pos++);
    let d = -1;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    if (d < 0) return -1;
    code = (code << 4) | d;
  }
  return code;
}

/** Reads a string (after whitespace) into `strPtr`/`strLen`; validates UTF-8 and escapes. */
export function readString(): bool {
  ws();
  if (peek() != 0x22) return false;
  pos++;
  const start = pos;
  // Fast path: no escapes, the span points into the input.
  while (pos < end) {
    const c = load<u8>(pos);
    if (c == 0x22) {
      strPtr = start;
      strLen = pos - start;
      pos++;
      return true;
    }
    if (c == 0x5c) break;
    if (c < 0x20) return false;
    const n = utf8Seq(pos, end);
    if (n == 0) return false;
    pos += n;
  }
  if (pos >= end) return false;
  // Slow path: copy into scratch, unescaping.
  const out = SCRATCH + scratchUsed;
  for (let p = start; p < pos; p++) if (!putScratch(load<u8>(p))) return false;
  while (pos < end) {
    const c = <u32> load<u8>(pos);
    if (c == 0x22) {
      strPtr = out;
      strLen = SCRATCH + scratchUsed - out;
      pos++;
      return true;
    }
    if (c < 0x20) return false;
    if (c != 0x5c) {
      const n = utf8Seq(pos, end);
      if (n == 0) return false;
      for (let i: usize = 0; i < n; i++) if (!putScratch(load<u8>(pos + i))) return false;
      pos += n;
      continue;
    }
    pos++;
    if (pos >= end) return false;
    const e = <u32> load<u8>(pos++);
    let ok = true;
    if (e == 0x22 || e == 0x5c || e == 0x2f) ok = putScratch(e);
    else if (e == 0x62) ok = putScratch(0x08);
    else if (e == 0x66) ok = putScratch(0x0c);
    else if (e == 0x6e) ok = putScratch(0x0a);
    else if (e == 0x72) ok = putScratch(0x0d);
    else if (e == 0x74) ok = putScratch(0x09);
    else if (e == 0x75) {
      let cp = hex4();
      if (cp < 0) return false;
      if (
        cp >= 0xd800 && cp <= 0xdbff && end - pos >= 6 && load<u8>(pos) == 0x5c &&
        load<u8>(pos + 1) == 0x75
      ) {
        const save = pos;
        pos += 2;
        const lo = hex4();
        if (lo >= 0xdc00 && lo <= 0xdfff) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        else pos = save;
      }
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // a lone surrogate
      ok = putCodePoint(<u32> cp);
    } else return false;
    if (!ok) return false;
  }
  return false;
}

function digits(): i32 {
  let n = 0;
  while (pos < end) {
    const c = load<u8>(pos);
    if (c < 0x30 || c > 0x39) break;
    num = num * 10 + <f64> (c - 0x30);
    pos++;
    n++;
  }
  return n;
}

/** Reads a number (after whitespace) into `num`; exact for integers below 2^53. */
export function readNumber(): bool {
  ws();
  let negative = false;
  if (peek() == 0x2d) {
    negative = true;
    pos++;
  }
  num = 0;
  if (peek() == 0x30) pos++;
  else if (digits() == 0) return false;
  if (peek() == 0x2e) {
    pos++;
    const whole = num;
    num = 0;
    const before = pos;
    if (digits() == 0) return false;
    num = whole + num / Math.pow(10, <f64> (pos - before));
  }
  const e = peek();
  if (e == 0x65 || e == 0x45) {
    pos++;
    let expNegative = false;
    const sign = peek();
    if (sign == 0x2b || sign == 0x2d) {
      expNegative = sign == 0x2d;
      pos++;
    }
    const mantissa = num;
    num = 0;
    if (digits() == 0) return false;
    const exp = num > 400 ? 400 : num;
    num = mantissa * Math.pow(10, expNegative ? -exp : exp);
  }
  if (negative) num = -num;
  return true;
}

/** Skips any value (after whitespace), checking that it is well formed. */
export function skipValue(depth: i32): bool {
  ws();
  const c = peek();
  if (c == 0x22) return readString();
  if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return readNumber();
  if (c == 0x74) return literal(0x65757274, 4); // true
  if (c == 0x66) return literal(0x736c6166, 4) && literal(0x65, 1); // false
  if (c == 0x6e) return readNull();
  if (depth >= MAX_DEPTH) return false;
  if (c == 0x5b) {
    pos++;
    if (expect(0x5d)) return true;
    while (true) {
      if (!skipValue(depth + 1)) return false;
      ws();
      const d = peek();
      pos++;
      if (d == 0x5d) return true;
      if (d != 0x2c) return false;
    }
  }
  if (c == 0x7b) {
    pos++;
    if (expect(0x7d)) return true;
    while (true) {
      if (!readString() || !expect(0x3a) || !skipValue(depth + 1)) return false;
      ws();
      const d = peek();
      pos++;
      if (d == 0x7d) return true;
      if (d != 0x2c) return false;
    }
  }
  return false;
}

/** True when the span equals the ASCII `word`. */
export function spanIs(ptr: usize, len: usize, word: string): bool {
  if (len != <usize> word.length) return false;
  for (let i: usize = 0; i < len; i++) {
    if (<i32> load<u8>(ptr + i) != word.charCodeAt(<i32> i)) return false;
  }
  return true;
}

/** True when the span equals the bytes of `buf`. */
export function spanEquals(ptr: usize, len: usize, buf: ArrayBuffer): bool {
  return len == <usize> buf.byteLength && memory.compare(ptr, changetype<usize>(buf), len) == 0;
}

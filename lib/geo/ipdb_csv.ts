/**
 * Parses the ip-location-db "num" CSVs (`start,end,CC` with decimal addresses) into sorted typed
 * arrays. Rows may nest (a more specific range inside a larger one, as geofeed entries do); each
 * row records its enclosing row so a lookup can fall back from an inner range to its container.
 */

/**
 * Ranges with `w` words per address (1 for IPv4, 4 for IPv6, big-endian): row i spans
 * `starts[i*w..i*w+w)` to `ends[i*w..i*w+w)`, inclusive, in country `codes[i]`.
 */
export interface RangeTable {
  starts: Uint32Array;
  ends: Uint32Array;
  /** Two ASCII letters packed as `(first << 8) | second`. */
  codes: Uint16Array;
  /** The row enclosing row i (the innermost one still open at its start), or −1. */
  parents: Int32Array;
  /** Lines that were not `start,end,CC` (blank lines aside). */
  skipped: number;
}

const TWO32 = 4294967296;

/** Parses decimal digits `text[from..to)` (< 2^128) into 4 big-endian words at `out[at]`. */
function parseDecimal128(text: string, from: number, to: number, out: Uint32Array, at: number) {
  if (to <= from || to - from > 39) return false;
  let w0 = 0, w1 = 0, w2 = 0, w3 = 0;
  for (let i = from; i < to;) {
    // Six digits at a time keep word * 1e6 + carry exact (below 2^53).
    const end = Math.min(to, i + 6);
    let chunk = 0, scale = 1;
    for (; i < end; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return false;
      chunk = chunk * 10 + d;
      scale *= 10;
    }
    let v = w3 * scale + chunk;
    let carry = Math.floor(v / TWO32);
    w3 = v - carry * TWO32;
    v = w2 * scale + carry;
    carry = Math.floor(v / TWO32);
    w2 = v - carry * TWO32;
    v = w1 * scale + carry;
    carry = Math.floor(v / TWO32);
    w1 = v - carry * TWO32;
    v = w0 * scale + carry;
    carry = Math.floor(v / TWO32);
    w0 = v - carry * TWO32;
    if (carry !== 0) return false; // 2^128 or more
  }
  out[at] = w0;
  out[at + 1] = w1;
  out[at + 2] = w2;
  out[at + 3] = w3;
  return true;
}

function parseDecimal32(text: string, from: number, to: number, out: Uint32Array, at: number) {
  if (to <= from || to - from > 10) return false;
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    value = value * 10 + d;
  }
  if (value > 0xffffffff) return false;
  out[at] = value;
  return true;
}

function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}

type ParseNumber = (
  text: string,
  from: number,
  to: number,
  out: Uint32Array,
  at: number,
) => boolean;

/** Compares the `words`-word numbers `a[i]` and `b[j]`. */
function compareWords(a: Uint32Array, i: number, b: Uint32Array, j: number, words: number) {
  for (let k = 0; k < words; k++) {
    const x = a[i * words + k], y = b[j * words + k];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function parseTable(text: string, words: number, parseNumber: ParseNumber): RangeTable {
  let capacity = 1;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) capacity++;
  let starts = new Uint32Array(capacity * words);
  let ends = new Uint32Array(capacity * words);
  let codes = new Uint16Array(capacity);
  let n = 0, skipped = 0;
  for (let pos = 0; pos < text.length;) {
    let eol = text.indexOf("\n", pos);
    if (eol < 0) eol = text.length;
    let end = eol;
    while (end > pos && text.charCodeAt(end - 1) <= 32) end--; // \r and trailing blanks
    const c1 = text.indexOf(",", pos);
    const c2 = c1 < 0 || c1 >= end ? -1 : text.indexOf(",", c1 + 1);
    if (end > pos) {
      const ok = c2 >= 0 && c2 + 3 === end &&
        isUpper(text.charCodeAt(c2 + 1)) && isUpper(text.charCodeAt(c2 + 2)) &&
        parseNumber(text, pos, c1, starts, n * words) &&
        parseNumber(text, c1 + 1, c2, ends, n * words) &&
        compareWords(starts, n, ends, n, words) <= 0;
      if (ok) codes[n++] = (text.charCodeAt(c2 + 1) << 8) | text.charCodeAt(c2 + 2);
      else skipped++;
    }
    pos = eol + 1;
  }
  starts = starts.slice(0, n * words);
  ends = ends.slice(0, n * words);
  codes = codes.slice(0, n);
  const table = { starts, ends, codes, parents: new Int32Array(n), skipped };
  sortTable(table, words);
  linkParents(table, words);
  return table;
}

/** Sorted means by start, and among equal starts the wider range first (so inner rows win). */
function compareRows(t: RangeTable, i: number, j: number, words: number): number {
  return compareWords(t.starts, i, t.starts, j, words) ||
    compareWords(t.ends, j, t.ends, i, words);
}

function countUnsorted(t: RangeTable, words: number): number {
  let count = 0;
  for (let i = 1; i < t.codes.length; i++) if (compareRows(t, i - 1, i, words) > 0) count++;
  return count;
}

/** Stable sort; insertion sort when only a few rows are out of place (the real data has two). */
function sortTable(t: RangeTable, words: number): void {
  const unsorted = countUnsorted(t, words);
  if (unsorted === 0) return;
  if (unsorted <= 64) return insertionSort(t, words);
  const order = Array.from(t.codes, (_, i) => i);
  order.sort((i, j) => compareRows(t, i, j, words) || i - j);
  const starts = t.starts.slice(), ends = t.ends.slice(), codes = t.codes.slice();
  order.forEach((from, to) => {
    t.starts.set(starts.subarray(from * words, from * words + words), to * words);
    t.ends.set(ends.subarray(from * words, from * words + words), to * words);
    t.codes[to] = codes[from];
  });
}

function insertionSort(t: RangeTable, words: number): void {
  const start = new Uint32Array(words), end = new Uint32Array(words);
  for (let i = 1; i < t.codes.length; i++) {
    if (compareRows(t, i - 1, i, words) <= 0) continue;
    start.set(t.starts.subarray(i * words, i * words + words));
    end.set(t.ends.subarray(i * words, i * words + words));
    const code = t.codes[i];
    let j = i;
    while (
      j > 0 &&
      (compareWords(t.starts, j - 1, start, 0, words) ||
          compareWords(end, 0, t.ends, j - 1, words)) > 0
    ) j--;
    t.starts.copyWithin((j + 1) * words, j * words, i * words);
    t.ends.copyWithin((j + 1) * words, j * words, i * words);
    t.codes.copyWithin(j + 1, j, i);
    t.starts.set(start, j * words);
    t.ends.set(end, j * words);
    t.codes[j] = code;
  }
}

/** Each row's parent is the innermost earlier row still open at its start (a stack sweep). */
function linkParents(t: RangeTable, words: number): void {
  const stack: number[] = [];
  for (let i = 0; i < t.codes.length; i++) {
    while (
      stack.length > 0 && compareWords(t.ends, stack[stack.length - 1], t.starts, i, words) < 0
    ) {
      stack.pop();
    }
    t.parents[i] = stack.length > 0 ? stack[stack.length - 1] : -1;
    stack.push(i);
  }
}

/** Parses `start,end,CC` lines with decimal uint32 addresses. Malformed lines are skipped. */
export function parseV4Csv(text: string): RangeTable {
  return parseTable(text, 1, parseDecimal32);
}

/** Parses `start,end,CC` lines with decimal 128-bit addresses. Malformed lines are skipped. */
export function parseV6Csv(text: string): RangeTable {
  return parseTable(text, 4, parseDecimal128);
}

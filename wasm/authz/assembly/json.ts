// A small JSON reader for the policy module. It never throws (AssemblyScript cannot catch): a
// failure sets `error` and returns null, so bad input becomes a denial, never a trap.

/** What a JSON value is. */
export enum Kind {
  Null,
  Bool,
  Num,
  Str,
  Arr,
  Obj,
}

/** A parsed JSON value. Objects keep keys and values in two parallel arrays. */
export class JValue {
  kind: Kind = Kind.Null;
  b: bool = false;
  n: f64 = 0;
  s: string = "";
  items: Array<JValue> | null = null;
  keys: Array<string> | null = null;

  constructor(kind: Kind) {
    this.kind = kind;
  }

  /** The member `key` of an object (the last one, as JSON.parse does), or null. */
  get(key: string): JValue | null {
    const keys = this.keys;
    const items = this.items;
    if (this.kind != Kind.Obj || keys === null || items === null) return null;
    for (let i = keys.length - 1; i >= 0; i--) {
      if (unchecked(keys[i]) == key) return unchecked(items[i]);
    }
    return null;
  }
}

/** Nesting deeper than this is refused (the host never sends more than three levels). */
const MAX_DEPTH = 32;

/** Reads one JSON document from linear memory. */
export class Parser {
  pos: usize;
  end: usize;
  error: string = "";

  constructor(ptr: usize, len: usize) {
    this.pos = ptr;
    this.end = ptr + len;
  }

  /** The document, or null with `error` set. */
  parse(): JValue | null {
    this.ws();
    const v = this.value(0);
    if (v === null) return null;
    this.ws();
    if (this.pos != this.end) return this.fail("Unexpected data after the value");
    return v;
  }

  private fail(message: string): JValue | null {
    if (this.error.length == 0) this.error = message;
    return null;
  }

  private peek(): i32 {
    return this.pos < this.end ? <i32> load<u8>(this.pos) : -1;
  }

  private ws(): void {
    while (this.pos < this.end) {
      const c = load<u8>(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  private value(depth: i32): JValue | null {
    const c = this.peek();
    if (c == 0x7b) return this.object(depth + 1);
    if (c == 0x5b) return this.array(depth + 1);
    if (c == 0x22) {
      const s = this.str();
      if (s === null) return null;
      const v = new JValue(Kind.Str);
      v.s = s;
      return v;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.num();
    if (this.literal("true")) {
      const v = new JValue(Kind.Bool);
      v.b = true;
      return v;
    }
    if (this.literal("false")) return new JValue(Kind.Bool);
    if (this.literal("null")) return new JValue(Kind.Null);
    return this.fail(c < 0 ? "Unexpected end of input" : "Unexpected character");
  }

  private literal(word: string): bool {
    const n = <usize> word.length;
    if (this.end - this.pos < n) return false;
    for (let i: usize = 0; i < n; i++) {
      if (<i32> load<u8>(this.pos + i) != word.charCodeAt(<i32> i)) return false;
    }
    this.pos += n;
    return true;
  }

  private object(depth: i32): JValue | null {
    if (depth > MAX_DEPTH) return this.fail("Nesting too deep");
    this.pos++; // {
    const v = new JValue(Kind.Obj);
    const keys = new Array<string>();
    const items = new Array<JValue>();
    v.keys = keys;
    v.items = items;
    this.ws();
    if (this.peek() == 0x7d) {
      this.pos++;
      return v;
    }
    while (true) {
      this.ws();
      if (this.peek() != 0x22) return this.fail("Expected a member name");
      const key = this.str();
      if (key === null) return null;
      this.ws();
      if (this.peek() != 0x3a) return this.fail("Expected ':'");
      this.pos++;
      this.ws();
      const item = this.value(depth);
      if (item === null) return null;
      keys.push(key);
      items.push(item);
      this.ws();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) return v;
      if (c != 0x2c) return this.fail("Expected ',' or '}'");
    }
  }

  private array(depth: i32): JValue | null {
    if (depth > MAX_DEPTH) return this.fail("Nesting too deep");
    this.pos++; // [
    const v = new JValue(Kind.Arr);
    const items = new Array<JValue>();
    v.items = items;
    this.ws();
    if (this.peek() == 0x5d) {
      this.pos++;
      return v;
    }
    while (true) {
      this.ws();
      const item = this.value(depth);
      if (item === null) return null;
      items.push(item);
      this.ws();
      const c = this.peek();
      this.pos++;
      if (c == 0x5d) return v;
      if (c != 0x2c) return this.fail("Expected ',' or ']'");
    }
  }

  private str(): string | null {
    this.pos++; // opening quote
    let out = "";
    let start = this.pos;
    while (true) {
      if (this.pos >= this.end) {
        this.fail("Unterminated string");
        return null;
      }
      const c = load<u8>(this.pos);
      if (c == 0x22) {
        out += String.UTF8.decodeUnsafe(start, this.pos - start);
        this.pos++;
        return out;
      }
      if (c < 0x20) {
        this.fail("Control character in string");
        return null;
      }
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      out += String.UTF8.decodeUnsafe(start, this.pos - start);
      this.pos++;
      const e = this.peek();
      this.pos++;
      if (e == 0x22) out += '"';
      else if (e == 0x5c) out += "\\";
      else if (e == 0x2f) out += "/";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x6e) out += "\n";
      else if (e == 0x72) out += "\r";
      else if (e == 0x74) out += "\t";
      else if (e == 0x75) {
        const code = this.hex4();
        if (code < 0) {
          this.fail("Bad \\u escape");
          return null;
        }
        out += String.fromCharCode(code);
      } else {
        this.fail("Bad escape");
        return null;
      }
      start = this.pos;
    }
  }

  private hex4(): i32 {
    if (this.end - this.pos < 4) return -1;
    let code = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32> load<u8>(this.pos++);
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      if (d < 0) return -1;
      code = (code << 4) | d;
    }
    return code;
  }

  private digits(): i32 {
    let n = 0;
    while (true) {
      const c = this.peek();
      if (c < 0x30 || c > 0x39) return n;
      this.pos++;
      n++;
    }
  }

  private num(): JValue | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    const first = this.peek();
    if (first == 0x30) this.pos++;
    else if (this.digits() == 0) return this.fail("Bad number");
    if (this.peek() == 0x2e) {
      this.pos++;
      if (this.digits() == 0) return this.fail("Bad number");
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.pos++;
      const sign = this.peek();
      if (sign == 0x2b || sign == 0x2d) this.pos++;
      if (this.digits() == 0) return this.fail("Bad number");
    }
    const v = new JValue(Kind.Num);
    v.n = parseFloat(String.UTF8.decodeUnsafe(start, this.pos - start));
    return v;
  }
}

/** `s` as a JSON string literal. */
export function quote(s: string): string {
  let out = '"';
  let start = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c && (c < 0xd800 || c > 0xdfff)) continue;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++; // a valid surrogate pair stays as it is
        continue;
      }
    }
    out += s.substring(start, i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c >= 0xd800 && c <= 0xdfff) out += "\\ufffd"; // lone surrogate
    else out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    start = i + 1;
  }
  return out + s.substring(start) + '"';
}

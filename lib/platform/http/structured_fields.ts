/**
 * Structured Field Dictionaries (RFC 8941 §4.2.2, with RFC 9651's Date), parsed strictly: any
 * deviation fails the whole field, as targeted cache fields require (RFC 9213 §2.1). Only what
 * a Dictionary needs; serialisation is not provided.
 */

/** A bare item: Integer or Decimal (number), String, Token, Byte Sequence, Boolean or Date. */
export type BareItem =
  | { type: "integer"; value: number }
  | { type: "decimal"; value: number }
  | { type: "string"; value: string }
  | { type: "token"; value: string }
  | { type: "bytes"; value: string }
  | { type: "boolean"; value: boolean }
  | { type: "date"; value: number };

/** An Item or an Inner List, with its parameters. */
export type Member =
  | { kind: "item"; item: BareItem; params: Map<string, BareItem> }
  | { kind: "list"; items: BareItem[]; params: Map<string, BareItem> };

class ParseError extends Error {}

const MAX_INPUT = 8192;

/** Parses a Dictionary; null when the value is not one (the field is then to be ignored). */
export function parseDictionary(input: string): Map<string, Member> | null {
  if (input.length > MAX_INPUT) return null;
  try {
    return new Parser(input).dictionary();
  } catch (error) {
    if (error instanceof ParseError) return null;
    throw error;
  }
}

function isLcAlpha(c: string): boolean {
  return c >= "a" && c <= "z";
}

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

function isAlpha(c: string): boolean {
  return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
}

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z:/]$/;
const BASE64 = /^[A-Za-z0-9+/=]*$/;

class Parser {
  readonly #s: string;
  #i = 0;

  constructor(s: string) {
    this.#s = s;
  }

  #fail(): never {
    throw new ParseError();
  }

  #peek(): string {
    return this.#s[this.#i] ?? "";
  }

  #skipSp(): void {
    while (this.#peek() === " ") this.#i++;
  }

  #skipOws(): void {
    while (this.#peek() === " " || this.#peek() === "\t") this.#i++;
  }

  dictionary(): Map<string, Member> {
    const out = new Map<string, Member>();
    this.#skipSp();
    if (this.#i >= this.#s.length) this.#fail(); // an empty field is ignored, not an empty dict
    while (this.#i < this.#s.length) {
      const key = this.#key();
      let member: Member;
      if (this.#peek() === "=") {
        this.#i++;
        member = this.#itemOrList();
      } else {
        member = { kind: "item", item: { type: "boolean", value: true }, params: this.#params() };
      }
      out.set(key, member); // the last of duplicate keys wins (RFC 8941 §4.2.2)
      this.#skipOws();
      if (this.#i >= this.#s.length) return out;
      if (this.#peek() !== ",") this.#fail();
      this.#i++;
      this.#skipOws();
      if (this.#i >= this.#s.length) this.#fail(); // trailing comma
    }
    return out;
  }

  #itemOrList(): Member {
    if (this.#peek() !== "(") {
      const item = this.#bareItem();
      return { kind: "item", item, params: this.#params() };
    }
    this.#i++;
    const items: BareItem[] = [];
    while (this.#i < this.#s.length) {
      this.#skipSp();
      if (this.#peek() === ")") {
        this.#i++;
        return { kind: "list", items, params: this.#params() };
      }
      items.push(this.#bareItem());
      this.#params(); // parameters of inner-list items are not needed
      const c = this.#peek();
      if (c !== " " && c !== ")") this.#fail();
    }
    return this.#fail();
  }

  #params(): Map<string, BareItem> {
    const params = new Map<string, BareItem>();
    while (this.#peek() === ";") {
      this.#i++;
      this.#skipSp();
      const key = this.#key();
      let value: BareItem = { type: "boolean", value: true };
      if (this.#peek() === "=") {
        this.#i++;
        value = this.#bareItem();
      }
      params.set(key, value);
    }
    return params;
  }

  #key(): string {
    const first = this.#peek();
    if (!isLcAlpha(first) && first !== "*") this.#fail();
    const start = this.#i;
    while (this.#i < this.#s.length) {
      const c = this.#peek();
      if (!isLcAlpha(c) && !isDigit(c) && c !== "_" && c !== "-" && c !== "." && c !== "*") break;
      this.#i++;
    }
    return this.#s.slice(start, this.#i);
  }

  #bareItem(): BareItem {
    const c = this.#peek();
    if (c === "-" || isDigit(c)) return this.#number();
    if (c === '"') return this.#string();
    if (c === "*" || isAlpha(c)) return this.#token();
    if (c === ":") return this.#bytes();
    if (c === "?") return this.#boolean();
    if (c === "@") {
      this.#i++;
      const n = this.#number();
      if (n.type !== "integer") this.#fail();
      return { type: "date", value: n.value };
    }
    return this.#fail();
  }

  #number(): BareItem {
    let sign = 1;
    if (this.#peek() === "-") {
      sign = -1;
      this.#i++;
    }
    if (!isDigit(this.#peek())) this.#fail();
    const start = this.#i;
    let dot = -1;
    while (this.#i < this.#s.length) {
      const c = this.#peek();
      if (isDigit(c)) this.#i++;
      else if (c === "." && dot < 0) {
        if (this.#i - start > 12) this.#fail();
        dot = this.#i;
        this.#i++;
      } else break;
      if (dot < 0 && this.#i - start > 15) this.#fail();
      if (dot >= 0 && this.#i - start > 16) this.#fail();
    }
    const text = this.#s.slice(start, this.#i);
    if (dot < 0) return { type: "integer", value: sign * Number(text) };
    const fraction = this.#i - dot - 1;
    if (fraction < 1 || fraction > 3) this.#fail();
    return { type: "decimal", value: sign * Number(text) };
  }

  #string(): BareItem {
    this.#i++;
    let out = "";
    while (this.#i < this.#s.length) {
      const c = this.#s[this.#i++];
      if (c === "\\") {
        const next = this.#s[this.#i++];
        if (next !== '"' && next !== "\\") this.#fail();
        out += next;
      } else if (c === '"') return { type: "string", value: out };
      else if (c < " " || c > "~") this.#fail();
      else out += c;
    }
    return this.#fail();
  }

  #token(): BareItem {
    const start = this.#i;
    this.#i++;
    while (this.#i < this.#s.length && TCHAR.test(this.#peek())) this.#i++;
    return { type: "token", value: this.#s.slice(start, this.#i) };
  }

  #bytes(): BareItem {
    this.#i++;
    const end = this.#s.indexOf(":", this.#i);
    if (end < 0) this.#fail();
    const value = this.#s.slice(this.#i, end);
    if (!BASE64.test(value)) this.#fail();
    this.#i = end + 1;
    return { type: "bytes", value };
  }

  #boolean(): BareItem {
    this.#i++;
    const c = this.#s[this.#i++];
    if (c === "1") return { type: "boolean", value: true };
    if (c === "0") return { type: "boolean", value: false };
    return this.#fail();
  }
}

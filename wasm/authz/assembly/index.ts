// Outpost's authorization module. ABI (see docs/authz.md): linear memory `memory`,
// `alloc(len) -> ptr`, `dealloc(ptr, len)`, `authorize(ptr, len) -> u64` and
// `load_policy(ptr, len) -> u64`, over UTF-8 JSON. A u64 result packs the output's pointer in
// the high 32 bits and its length in the low 32 bits; the output stays valid until the next call.
// `authorize` allocates nothing, so a decision costs no garbage collection.

import { Parser, quote } from "./json";
import { begin, finish, integer, span, text } from "./out";
import { anyMatches, packCountry, Policy, PolicyReader, Role } from "./policy";
import * as scan from "./scan";

const MAX_ROLES = 64;
/** Role spans of the current input: pointer and length pairs. */
const ROLES = memory.data(MAX_ROLES * 16);

let policy: Policy = new Policy();
let policyOutput: ArrayBuffer = new ArrayBuffer(0);

/** Reserves `len` bytes for the host to write input into. */
export function alloc(len: usize): usize {
  return heap.alloc(len == 0 ? 1 : len);
}

/** Releases memory from `alloc`. */
export function dealloc(ptr: usize, _len: usize): void {
  if (ptr != 0) heap.free(ptr);
}

/** Loads a policy; answers `{"ok":true}` or `{"ok":false,"error":"path: reason"}`. */
export function load_policy(ptr: usize, len: usize): u64 {
  const parser = new Parser(ptr, len);
  const root = parser.parse();
  let json = '{"ok":true}';
  if (root === null) json = '{"ok":false,"error":' + quote("(root): " + parser.error) + "}";
  else {
    const reader = new PolicyReader();
    const next = reader.read(root);
    if (next === null) json = '{"ok":false,"error":' + quote(reader.error) + "}";
    else policy = next;
  }
  policyOutput = String.UTF8.encode(json);
  return (<u64> changetype<usize>(policyOutput) << 32) | <u64> policyOutput.byteLength;
}

// What the scanner found in the current input.
let roleCount = 0;
let actionPtr: usize = 0;
let actionLen: usize = 0;
let colon: usize = 0;
let country: u32 = 0; // 0 = unknown
let remaining: f64 = 0;
let limit: f64 = 0;
let seen: u32 = 0;

const SEEN_USER: u32 = 1;
const SEEN_ROLES: u32 = 2;
const SEEN_ACTION: u32 = 4;
const SEEN_RESOURCE: u32 = 8;
const SEEN_COUNTRY: u32 = 16;
const SEEN_RATE: u32 = 32;
const SEEN_ALL: u32 = 63;

function decision(allowed: bool, status: i32, code: string): void {
  begin();
  text(allowed ? '{"allowed":true,"status":' : '{"allowed":false,"status":');
  integer(<u64> status);
  text(',"code":"');
  text(code);
  text('","reason":"');
}

function done(): u64 {
  text('"}');
  return finish();
}

function invalid(reason: string): u64 {
  decision(false, 400, "invalid_input");
  text("Invalid input: ");
  text(reason);
  return done();
}

function readRoles(): bool {
  if (!scan.expect(0x5b)) return false;
  roleCount = 0;
  if (scan.expect(0x5d)) return true;
  while (true) {
    if (roleCount >= MAX_ROLES || !scan.readString()) return false;
    store<usize>(ROLES + <usize> roleCount * 16, scan.strPtr);
    store<usize>(ROLES + <usize> roleCount * 16 + 8, scan.strLen);
    roleCount++;
    const c = scan.take();
    if (c == 0x5d) return true;
    if (c != 0x2c) return false;
  }
}

function readRate(): bool {
  if (!scan.expect(0x7b)) return false;
  let found = 0;
  if (scan.expect(0x7d)) return false;
  while (true) {
    if (!scan.readString()) return false;
    const kp = scan.strPtr;
    const kl = scan.strLen;
    if (!scan.expect(0x3a)) return false;
    if (scan.spanIs(kp, kl, "remaining")) {
      if (!scan.readNumber() || !(scan.num >= -1 && scan.num <= 1e12)) return false;
      remaining = scan.num;
      found |= 1;
    } else if (scan.spanIs(kp, kl, "limit")) {
      if (!scan.readNumber() || !(scan.num >= 0 && scan.num <= 1e12)) return false;
      limit = scan.num;
      found |= 2;
    } else if (scan.spanIs(kp, kl, "reset_s")) {
      if (!scan.readNumber() || !(scan.num >= 0 && scan.num <= 1e12)) return false;
      found |= 4;
    } else if (!scan.skipValue(1)) return false;
    const c = scan.take();
    if (c == 0x7d) return found == 7;
    if (c != 0x2c) return false;
  }
}

function readCountry(): bool {
  scan.ws();
  if (scan.peek() == 0x6e) {
    country = 0;
    return scan.readNull();
  }
  if (!scan.readString() || scan.strLen != 2) return false;
  const a = <u32> load<u8>(scan.strPtr);
  const b = <u32> load<u8>(scan.strPtr + 1);
  if (a < 0x41 || a > 0x5a || b < 0x41 || b > 0x5a) return false;
  country = packCountry(a, b);
  return true;
}

/** Reads the input object; returns an error message, or "" when it is well formed. */
function readInput(): string {
  seen = 0;
  if (!scan.expect(0x7b)) return "not a JSON object";
  if (scan.expect(0x7d)) return "missing fields";
  while (true) {
    if (!scan.readString()) return "bad member name";
    const kp = scan.strPtr;
    const kl = scan.strLen;
    if (!scan.expect(0x3a)) return "expected ':'";
    if (scan.spanIs(kp, kl, "user_id")) {
      scan.ws();
      if (!(scan.peek() == 0x6e ? scan.readNull() : scan.readString())) {
        return "user_id must be a string or null";
      }
      seen |= SEEN_USER;
    } else if (scan.spanIs(kp, kl, "roles")) {
      if (!readRoles()) return "roles must be an array of at most 64 strings";
      seen |= SEEN_ROLES;
    } else if (scan.spanIs(kp, kl, "action")) {
      if (!scan.readString()) return "action must be a string";
      actionPtr = scan.strPtr;
      actionLen = scan.strLen;
      seen |= SEEN_ACTION;
    } else if (scan.spanIs(kp, kl, "resource")) {
      if (!scan.readString()) return "resource must be a string";
      seen |= SEEN_RESOURCE;
    } else if (scan.spanIs(kp, kl, "country")) {
      if (!readCountry()) return "country must be an ISO 3166 alpha-2 code or null";
      seen |= SEEN_COUNTRY;
    } else if (scan.spanIs(kp, kl, "rate")) {
      if (!readRate()) return "rate needs remaining (>= -1), limit and reset_s (>= 0)";
      seen |= SEEN_RATE;
    } else if (!scan.skipValue(1)) return "malformed JSON";
    const c = scan.take();
    if (c == 0x7d) break;
    if (c != 0x2c) return "malformed JSON";
  }
  scan.ws();
  if (scan.pos != scan.end) return "unexpected data after the object";
  if (seen != SEEN_ALL) return "missing fields";
  // The action is resource:verb, neither part empty or a wildcard.
  colon = 0;
  for (let i: usize = 0; i < actionLen; i++) {
    if (load<u8>(actionPtr + i) == 0x3a) {
      if (colon != 0) return "action must be resource:verb";
      colon = i;
    }
  }
  if (colon == 0 || colon == actionLen - 1) return "action must be resource:verb";
  if (
    (colon == 1 && load<u8>(actionPtr) == 0x2a) ||
    (colon == actionLen - 2 && load<u8>(actionPtr + actionLen - 1) == 0x2a)
  ) return "action must not be a wildcard";
  return "";
}

/** Decides one request: `{ user_id, roles, action, resource, country, rate }`. */
export function authorize(ptr: usize, len: usize): u64 {
  scan.reset(ptr, len);
  const error = readInput();
  if (error.length > 0) return invalid(error);

  const resPtr = actionPtr;
  const resLen = colon;
  const verbPtr = actionPtr + colon + 1;
  const verbLen = actionLen - colon - 1;
  const roles = policy.roles;
  let allowedBy: Role | null = null;
  for (let i = 0; i < roleCount; i++) {
    const rp = load<usize>(ROLES + <usize> i * 16);
    const rl = load<usize>(ROLES + <usize> i * 16 + 8);
    for (let j = 0; j < roles.length; j++) {
      const role = unchecked(roles[j]);
      if (!scan.spanEquals(rp, rl, role.name)) continue;
      if (anyMatches(role.deny, resPtr, resLen, verbPtr, verbLen)) {
        decision(false, 403, "permission_denied");
        text("Role ");
        span(rp, rl);
        text(" may not ");
        span(actionPtr, actionLen);
        return done();
      }
      if (allowedBy === null && anyMatches(role.allow, resPtr, resLen, verbPtr, verbLen)) {
        allowedBy = role;
      }
    }
  }
  if (allowedBy === null) {
    decision(false, 403, "permission_denied");
    text("No role of this user allows ");
    span(actionPtr, actionLen);
    return done();
  }

  const geo = policy.geo;
  for (let i = 0; i < geo.length; i++) {
    const rule = unchecked(geo[i]);
    if (!anyMatches(rule.actions, resPtr, resLen, verbPtr, verbLen)) continue;
    if (country == 0) {
      if (!rule.unknownDenied) continue;
      decision(false, 403, "geo_restricted");
      span(actionPtr, actionLen);
      text(" is not available from an unknown country");
      return done();
    }
    if ((rule.allow.length > 0 && !rule.allow.includes(country)) || rule.deny.includes(country)) {
      decision(false, 403, "geo_restricted");
      span(actionPtr, actionLen);
      text(" is not available in ");
      store<u16>(ROLES, <u16> ((country >> 8) | ((country & 0xff) << 8)));
      span(ROLES, 2);
      return done();
    }
  }

  if (remaining < 0) {
    decision(false, 429, "rate_limited");
    text("Rate limit of ");
    integer(<u64> limit);
    text(" requests exceeded");
    return done();
  }
  decision(true, 200, "ok");
  text("Allowed by role ");
  const name = allowedBy.name;
  span(changetype<usize>(name), <usize> name.byteLength);
  return done();
}

import assert from "node:assert/strict";
import fc from "fast-check";
import { CidrSet, formatIp, parseCidr, parseIp } from "../../../lib/platform/net/ip.ts";

Deno.test("parseIp() parses IPv4 and IPv6 forms", async (t) => {
  const cases: Array<[string, string | null]> = [
    ["1.2.3.4", "1.2.3.4"],
    ["255.255.255.255", "255.255.255.255"],
    ["0.0.0.0", "0.0.0.0"],
    ["::1", "0:0:0:0:0:0:0:1"],
    ["::", "0:0:0:0:0:0:0:0"],
    ["2001:db8::8a2e:370:7334", "2001:db8:0:0:0:8a2e:370:7334"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8:0:0:0:0:0:1"],
    ["fe80::1%eth0", "fe80:0:0:0:0:0:0:1"],
    ["[::1]", "0:0:0:0:0:0:0:1"],
    ["::ffff:10.1.2.3", "10.1.2.3"],
    ["64:ff9b::1.2.3.4", "64:ff9b:0:0:0:0:102:304"],
    ["1.2.3", null],
    ["1.2.3.4.5", null],
    ["256.1.1.1", null],
    ["01.2.3.4", null],
    ["1.2.3.-1", null],
    ["abc", null],
    ["", null],
    [":::", null],
    ["1::2::3", null],
    ["1:2:3:4:5:6:7:8:9", null],
    ["12345::", null],
    ["::1.2.3", null],
  ];
  for (const [input, expected] of cases) {
    await t.step(JSON.stringify(input), () => {
      const ip = parseIp(input);
      assert.equal(ip === null ? null : formatIp(ip), expected);
    });
  }
});

Deno.test("parseIp() never throws on arbitrary text", () => {
  fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => {
    parseIp(s);
  }));
});

Deno.test("CidrSet.has() matches ranges of both families", () => {
  const set = new CidrSet(["127.0.0.0/8", "10.1.0.0/16", "::1/128", "2001:db8::/32", "192.0.2.7"]);
  assert.ok(set.has("127.0.0.1"));
  assert.ok(set.has("127.255.255.255"));
  assert.ok(set.has("10.1.200.3"));
  assert.ok(!set.has("10.2.0.1"));
  assert.ok(set.has("::1"));
  assert.ok(set.has("::ffff:127.0.0.1"));
  assert.ok(set.has("2001:db8:ffff::1"));
  assert.ok(!set.has("2001:db9::1"));
  assert.ok(set.has("192.0.2.7"));
  assert.ok(!set.has("192.0.2.8"));
  assert.ok(!set.has("not an ip"));
  assert.ok(!new CidrSet([]).has("127.0.0.1"));
});

Deno.test("parseCidr() rejects bad prefixes", () => {
  assert.equal(parseCidr("10.0.0.0/33"), null);
  assert.equal(parseCidr("::/129"), null);
  assert.equal(parseCidr("10.0.0.0/"), null);
  assert.equal(parseCidr("10.0.0.0/x"), null);
  assert.deepEqual(parseCidr("10.9.8.7/8"), { version: 4, prefix: 8, words: [0x0a000000] });
  assert.deepEqual(parseCidr("0.0.0.0/0")?.prefix, 0);
});

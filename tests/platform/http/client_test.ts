import assert from "node:assert/strict";
import { clientAddress } from "../../../lib/platform/http/client.ts";
import { CidrSet } from "../../../lib/platform/net/ip.ts";

const trusted = new CidrSet(["127.0.0.0/8", "10.0.0.0/8"]);

Deno.test("clientAddress() believes X-Forwarded-For only from trusted peers", async (t) => {
  const cases: Array<[string, string | null, string | null, string | null]> = [
    ["untrusted peer: the peer", "203.0.113.1", "1.2.3.4", "203.0.113.1"],
    ["trusted peer without header: the peer", "127.0.0.1", null, "127.0.0.1"],
    [
      "trusted peer: rightmost untrusted hop",
      "127.0.0.1",
      "9.9.9.9, 198.51.100.7, 10.0.0.2",
      "198.51.100.7",
    ],
    ["all hops trusted: the leftmost", "127.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"],
    ["hop with port", "127.0.0.1", "198.51.100.7:4711", "198.51.100.7"],
    ["bracketed v6 hop", "127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"],
    ["garbage chain: the peer", "127.0.0.1", "not-an-ip", "127.0.0.1"],
    ["oversized chain: the peer", "127.0.0.1", "1.2.3.4,".repeat(400), "127.0.0.1"],
    ["unknown peer", null, "1.2.3.4", null],
  ];
  for (const [name, peer, xff, expected] of cases) {
    await t.step(name, () => assert.equal(clientAddress(peer, xff, trusted), expected));
  }
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { IpCountryDb, LazyIpCountry, loadIpDatabase } from "../../lib/geo/ipdb.ts";
import { parseIpv4, parseIpv6 } from "../../lib/net/ip.ts";

/** `start,end,CC` with decimal v4 numbers, from dotted quads. */
function v4Row(start: string, end: string, cc: string): string {
  return `${parseIpv4(start)},${parseIpv4(end)},${cc}`;
}

function v6Number(text: string): bigint {
  const words = parseIpv6(text);
  if (words === null) throw new TypeError(`Not an IPv6 address: ${text}`);
  return words.reduce((n, w) => (n << 32n) | BigInt(w), 0n);
}

/** `start,end,CC` with decimal 128-bit numbers, from IPv6 text. */
function v6Row(start: string, end: string, cc: string): string {
  return `${v6Number(start)},${v6Number(end)},${cc}`;
}

const V4_ROWS: ReadonlyArray<readonly [string, string, string]> = [
  ["1.0.0.0", "1.0.0.255", "AU"],
  ["1.0.1.0", "1.0.3.255", "CN"],
  // gap: 1.0.4.0 - 1.0.7.255
  ["1.0.8.0", "1.0.15.255", "JP"],
  ["2.58.196.0", "2.58.197.255", "DE"],
  ["2.58.197.15", "2.58.197.15", "BE"], // nested, as geofeed rows are
  ["8.8.8.0", "8.8.8.255", "US"],
  ["10.0.0.0", "10.255.255.255", "US"], // private space never answers, even when listed
  ["223.255.255.0", "223.255.255.255", "KR"],
];

const V6_ROWS: ReadonlyArray<readonly [string, string, string]> = [
  ["2001:200::", "2001:200:ffff:ffff:ffff:ffff:ffff:ffff", "JP"],
  ["2001:678:b24::", "2001:678:b24:ffff:ffff:ffff:ffff:ffff", "CH"],
  ["2001:678:b24:1000::", "2001:678:b24:1fff:ffff:ffff:ffff:ffff", "DE"],
  // not /64-aligned: these differ only in the low 64 bits
  ["2a01:4f8::1:0", "2a01:4f8::1:ffff", "DE"],
  ["2a01:4f8::2:0", "2a01:4f8::2:ffff", "FI"],
  // crosses a 32-bit word boundary
  ["2400:cb00::ffff:ffff", "2400:cb00::1:0:0", "US"],
];

function makeDb(options: { crlf?: boolean; shuffle?: boolean } = {}): IpCountryDb {
  const v4 = V4_ROWS.map(([s, e, cc]) => v4Row(s, e, cc));
  const v6 = V6_ROWS.map(([s, e, cc]) => v6Row(s, e, cc));
  if (options.shuffle) {
    v4.reverse();
    v6.reverse();
  }
  const eol = options.crlf ? "\r\n" : "\n";
  return IpCountryDb.fromCsv(v4.join(eol) + eol, v6.join(eol));
}

const CASES: ReadonlyArray<readonly [string, string | null]> = [
  ["1.0.0.0", "AU"], // first address of the first range
  ["1.0.0.255", "AU"], // last address of a range
  ["1.0.1.0", "CN"], // first of the next one
  ["1.0.3.255", "CN"],
  ["1.0.4.0", null], // gap
  ["1.0.7.255", null],
  ["1.0.8.0", "JP"],
  ["0.255.255.255", null], // before everything
  ["2.58.197.14", "DE"],
  ["2.58.197.15", "BE"], // the nested row wins
  ["2.58.197.16", "DE"], // and the container resumes after it
  ["2.58.197.255", "DE"],
  ["8.8.8.8", "US"],
  ["::ffff:8.8.8.8", "US"], // v4-mapped v6
  ["::ffff:808:808", "US"],
  ["223.255.255.255", "KR"],
  ["2001:200::", "JP"],
  ["2001:200:ffff:ffff:ffff:ffff:ffff:ffff", "JP"],
  ["2001:201::", null],
  ["2001:678:b24::1", "CH"],
  ["2001:678:b24:1abc::1", "DE"],
  ["2001:678:b24:2000::", "CH"],
  ["2a01:4f8::0:ffff", null],
  ["2a01:4f8::1:0", "DE"],
  ["2a01:4f8::1:ffff", "DE"],
  ["2a01:4f8::2:0", "FI"],
  ["2a01:4f8::2:ffff", "FI"],
  ["2a01:4f8::3:0", null],
  ["2400:cb00::ffff:fffe", null],
  ["2400:cb00::ffff:ffff", "US"],
  ["2400:cb00::1:0:0", "US"],
  ["2400:cb00::1:0:1", null],
  ["[2001:200::1]", "JP"],
  ["2001:200::1%eth0", "JP"],
];

Deno.test("IpCountryDb.lookup() finds the range an address is in", async (t) => {
  const db = makeDb();
  for (const [ip, expected] of CASES) {
    await t.step(`${ip} → ${expected}`, () => assert.equal(db.lookup(ip), expected));
  }
  await t.step("size counts v4 and v6 ranges", () => assert.equal(db.size, 14));
});

Deno.test("IpCountryDb.fromCsv() copes with CRLF, unsorted and malformed lines", async (t) => {
  await t.step("CRLF and reversed input give the same answers", () => {
    for (const db of [makeDb({ crlf: true }), makeDb({ shuffle: true })]) {
      for (const [ip, expected] of CASES) assert.equal(db.lookup(ip), expected, ip);
    }
  });
  await t.step("malformed lines are skipped and counted", () => {
    const v4 = [
      "start,end,country",
      "16777216,16777471,AU",
      "",
      "16777472,16777471,CN", // end before start
      "16777472,4294967296,CN", // past 2^32 - 1
      "16777472,16778239,cn", // lower case
      "16777472,16778239,CHN",
      "0x10,0x20,US",
      "16777472,16778239",
      "-1,5,US",
      "1,2,3,US",
    ].join("\n");
    const v6 = [
      "340282366920938463463374607431768211455,340282366920938463463374607431768211456,US", // 2^128
      "1e30,2e30,US",
      "42540528726795050063891204319802818560,42540528806023212578155541913346768895,JP",
    ].join("\n");
    const db = IpCountryDb.fromCsv(v4, v6);
    assert.equal(db.size, 2);
    assert.equal(db.skipped, 11);
    assert.equal(db.lookup("1.0.0.1"), "AU");
    assert.equal(db.lookup("2001:200::1"), "JP");
  });
  await t.step("empty input", () => {
    const db = IpCountryDb.fromCsv("", "");
    assert.equal(db.size, 0);
    assert.equal(db.lookup("8.8.8.8"), null);
    assert.equal(db.lookup("2001:200::1"), null);
  });
});

Deno.test("IpCountryDb.lookup() answers null for special and malformed addresses", async (t) => {
  const db = makeDb();
  await t.step("private, loopback, link-local, multicast and documentation", () => {
    const special = [
      "10.1.2.3",
      "127.0.0.1",
      "192.168.1.1",
      "172.16.0.1",
      "169.254.1.1",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::",
      "::1",
      "fc00::1",
      "fd12:3456::1",
      "fe80::1",
      "ff02::1",
      "2001:db8::1",
      "::ffff:10.0.0.1",
    ];
    for (const ip of special) assert.equal(db.lookup(ip), null, ip);
  });
  await t.step("malformed text", () => {
    const bad = [
      "",
      " ",
      "8.8.8",
      "8.8.8.8.8",
      "08.8.8.8",
      "8.8.8.256",
      "1.0.0.0/24",
      "::g",
      ":::",
    ];
    for (const ip of [...bad, "1::2::3", "x".repeat(100_000), "8.8.8.8 ", "٨.٨.٨.٨"]) {
      assert.equal(db.lookup(ip), null, ip.slice(0, 20));
    }
    for (const value of [null, undefined, 8, {}]) {
      assert.equal(db.lookup(value as unknown as string), null);
    }
  });
  await t.step("never throws on any string", () => {
    const ipChars = fc.constantFrom(..."0123456789abcdefABCDEF:.%[]/ \u0000ſ");
    const text = fc.oneof(
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.string({ unit: ipChars, maxLength: 48 }),
      fc.ipV4(),
      fc.ipV4Extended(),
      fc.ipV6(),
    );
    fc.assert(
      fc.property(text, (ip) => {
        const cc = db.lookup(ip);
        assert.ok(cc === null || /^[A-Z]{2}$/.test(cc));
      }),
      { numRuns: 3000 },
    );
  });
});

Deno.test("IpCountryDb.lookup() agrees with a linear scan of the ranges", () => {
  const db = makeDb();
  const ranges = V4_ROWS.filter(([s]) => !s.startsWith("10."))
    .map(([s, e, cc]) => ({ start: parseIpv4(s)!, end: parseIpv4(e)!, cc }));
  const near = fc.constantFrom(...ranges.flatMap((r) => [r.start, r.end]))
    .chain((n) => fc.integer({ min: Math.max(0, n - 3), max: Math.min(0xdfffffff, n + 3) }));
  fc.assert(
    fc.property(fc.oneof(near, fc.integer({ min: 0x01000000, max: 0xdfffffff })), (n) => {
      const ip = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      // The narrowest range containing the address wins.
      const hits = ranges.filter((r) => r.start <= n && n <= r.end);
      hits.sort((a, b) => (a.end - a.start) - (b.end - b.start));
      assert.equal(db.lookup(ip), hits[0]?.cc ?? null, ip);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("LazyIpCountry answers null until its database has loaded", async (t) => {
  await t.step("then answers from it", async () => {
    const lazy = new LazyIpCountry();
    assert.equal(lazy.state, "off");
    const { promise, resolve } = Promise.withResolvers<IpCountryDb>();
    let calls = 0;
    const loader = () => (calls++, promise);
    const first = lazy.load(loader), second = lazy.load(loader);
    assert.equal(lazy.state, "loading");
    assert.equal(lazy.ready, false);
    assert.equal(lazy.size, 0);
    assert.equal(lazy.lookup("8.8.8.8"), null);
    resolve(makeDb());
    await Promise.all([first, second]);
    assert.equal(calls, 1);
    assert.equal(lazy.ready, true);
    assert.equal(lazy.state, "ready");
    assert.equal(lazy.error, undefined);
    assert.equal(lazy.size, 14);
    assert.equal(lazy.lookup("8.8.8.8"), "US");
    await lazy.load(() => Promise.reject(new Error("not called")));
    assert.equal(lazy.error, undefined);
  });
  await t.step("a failed load resolves, keeps the error, and can be retried", async () => {
    const lazy = new LazyIpCountry();
    const boom = new Error("no database");
    await lazy.load(() => Promise.reject(boom));
    assert.equal(lazy.ready, false);
    assert.equal(lazy.error, boom);
    assert.equal(lazy.state, "failed");
    assert.equal(lazy.lookup("8.8.8.8"), null);
    await lazy.load(() => {
      throw new TypeError("thrown at once");
    });
    assert.ok(lazy.error instanceof TypeError);
    await lazy.load(() => Promise.resolve(makeDb()));
    assert.equal(lazy.ready, true);
    assert.equal(lazy.error, undefined);
    assert.equal(lazy.lookup("2001:200::1"), "JP");
  });
});

Deno.test("loadIpDatabase() loads the real database", async () => {
  const db = await loadIpDatabase();
  assert.ok(db.size > 500_000, `only ${db.size} ranges`);
  assert.equal(db.skipped, 0);
  assert.equal(db.lookup("8.8.8.8"), "US");
  assert.equal(db.lookup("1.1.1.1"), "AU"); // APNIC's research prefix, registered in Australia
  assert.equal(db.lookup("2001:4860:4860::8888"), "US");
  assert.equal(db.lookup("::ffff:8.8.4.4"), "US");
  assert.equal(db.lookup("192.168.0.1"), null);
  assert.equal(db.lookup("::1"), null);
});

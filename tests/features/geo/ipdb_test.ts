import assert from "node:assert/strict";
import fc from "fast-check";
import { IpCountryDb, LazyIpCountry, loadIpDatabase } from "../../../lib/features/geo/ipdb.ts";
import { cidrContains, parseCidr, parseIpv4, parseIpv6 } from "../../../lib/platform/net/ip.ts";
import { type MmdbRange, writeMmdb } from "./_mmdb.ts";

function v6Number(text: string): bigint {
  const words = parseIpv6(text);
  if (words === null) throw new TypeError(`Not an IPv6 address: ${text}`);
  return words.reduce((n, w) => (n << 32n) | BigInt(w), 0n);
}

/** A range of dotted quads, as the database stores it (`::a.b.c.d`). */
function v4Range(start: string, end: string, country: string): MmdbRange {
  return { start: BigInt(parseIpv4(start)!), end: BigInt(parseIpv4(end)!), country };
}

function v6Range(start: string, end: string, country: string): MmdbRange {
  return { start: v6Number(start), end: v6Number(end), country };
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

function makeDb(): Promise<IpCountryDb> {
  return IpCountryDb.fromMmdb(writeMmdb([
    ...V4_ROWS.map(([s, e, cc]) => v4Range(s, e, cc)),
    ...V6_ROWS.map(([s, e, cc]) => v6Range(s, e, cc)),
  ]));
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
  const db = await makeDb();
  for (const [ip, expected] of CASES) {
    await t.step(`${ip} → ${expected}`, () => assert.equal(db.lookup(ip), expected));
  }
  await t.step("size is the search tree's node count, builtAt the build date", () => {
    assert.ok(db.size > 0);
    assert.equal(db.builtAt.getTime(), 1_750_000_000_000);
  });
});

Deno.test("IpCountryDb.fromMmdb() reads the bytes in place and refuses what is not a database", async (t) => {
  await t.step("a view into a larger buffer", async () => {
    const bytes = writeMmdb([v4Range("8.8.8.0", "8.8.8.255", "US")]);
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 7);
    const db = await IpCountryDb.fromMmdb(padded.subarray(7, 7 + bytes.length));
    assert.equal(db.lookup("8.8.8.8"), "US");
    assert.equal(db.lookup("8.8.9.8"), null);
  });
  await t.step("an empty database answers null", async () => {
    const db = await IpCountryDb.fromMmdb(writeMmdb([]));
    assert.equal(db.lookup("8.8.8.8"), null);
    assert.equal(db.lookup("2001:200::1"), null);
  });
  await t.step("bytes that are not a MaxMind DB throw", async () => {
    await assert.rejects(IpCountryDb.fromMmdb(new TextEncoder().encode("start,end,CC\n")));
    await assert.rejects(IpCountryDb.fromMmdb(new Uint8Array(0)));
  });
  await t.step("records without a two-letter country_code answer null", async () => {
    const db = await IpCountryDb.fromMmdb(writeMmdb([
      v4Range("1.0.0.0", "1.0.0.255", "au"),
      v4Range("1.0.1.0", "1.0.1.255", "AUS"),
      v4Range("1.0.2.0", "1.0.2.255", "JP"),
    ]));
    assert.equal(db.lookup("1.0.0.1"), null);
    assert.equal(db.lookup("1.0.1.1"), null);
    assert.equal(db.lookup("1.0.2.1"), "JP");
  });
});

Deno.test("IpCountryDb.lookup() answers null for special and malformed addresses", async (t) => {
  const db = await makeDb();
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

Deno.test("IpCountryDb.lookup() agrees with a linear scan of the ranges", async () => {
  const db = await makeDb();
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

/** A random v4 block (`::a.b.c.d/96+p`) or v6 block inside 2000::/3, with a country. */
const blockArb = fc.oneof(
  fc.record({
    network: fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      // Around the special blocks, so their edges are probed too.
      fc.constantFrom(0x0a000000, 0x64400000, 0x7f000000, 0xac100000, 0xe0000000)
        .chain((n) => fc.integer({ min: n - 256, max: n + 256 })),
    ).map(BigInt),
    size: fc.integer({ min: 0, max: 24 }),
  }),
  fc.record({
    network: fc.bigInt({ min: 0x2000n << 112n, max: (0x4000n << 112n) - 1n }),
    size: fc.integer({ min: 64, max: 112 }),
  }),
).chain(({ network, size }) =>
  fc.constantFrom("AU", "DE", "JP", "US").map((country): MmdbRange => {
    const start = (network >> BigInt(size)) << BigInt(size);
    return { start, end: start + (1n << BigInt(size)) - 1n, country };
  })
);

/** IPv4 space that never names a country, whatever the data says (an independent list). */
const SPECIAL_V4 = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
].map((c) => parseCidr(c)!);

function addressText(n: bigint, v6: boolean): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join(".");
  return Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16))
    .join(":");
}

Deno.test("IpCountryDb.lookup() agrees with a linear scan of random nested blocks", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(blockArb, {
        minLength: 1,
        maxLength: 12,
        selector: (b) => `${b.start}-${b.end}`,
      }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
      async (blocks, picks) => {
        const db = await IpCountryDb.fromMmdb(writeMmdb(blocks));
        // Probe the edges of every block, just outside them, and inside.
        const probes = blocks.flatMap((b) => [b.start, b.end, b.start - 1n, b.end + 1n]);
        for (const p of picks) {
          const b = blocks[p % blocks.length];
          probes.push(b.start + BigInt(p) % (b.end - b.start + 1n));
        }
        for (const n of probes) {
          const v6 = n >= 1n << 32n;
          if (v6 ? n >= 1n << 128n : n < 0n) continue;
          // The narrowest block containing the address wins (blocks nest or are disjoint).
          const hits = blocks.filter((b) => b.start <= n && n <= b.end);
          hits.sort((a, b) => (a.end - a.start < b.end - b.start ? -1 : 1));
          const special = v6
            ? n >> 96n === 0x20010db8n // documentation
            : SPECIAL_V4.some((c) => cidrContains(c, { version: 4, value: Number(n) }));
          const text = addressText(n, v6);
          assert.equal(db.lookup(text), special ? null : hits[0]?.country ?? null, text);
        }
      },
    ),
    { numRuns: 60 },
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
    resolve(await makeDb());
    await Promise.all([first, second]);
    assert.equal(calls, 1);
    assert.equal(lazy.ready, true);
    assert.equal(lazy.state, "ready");
    assert.equal(lazy.error, undefined);
    assert.ok(lazy.size > 0);
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
    await lazy.load(() => makeDb());
    assert.equal(lazy.ready, true);
    assert.equal(lazy.error, undefined);
    assert.equal(lazy.lookup("2001:200::1"), "JP");
  });
});

Deno.test("loadIpDatabase() loads the real database", async () => {
  const db = await loadIpDatabase();
  assert.ok(db.size > 500_000, `only ${db.size} nodes`);
  assert.ok(db.builtAt.getTime() > Date.UTC(2024, 0, 1), `built ${db.builtAt.toISOString()}`);
  assert.equal(db.lookup("8.8.8.8"), "US");
  assert.equal(db.lookup("1.1.1.1"), "AU"); // APNIC's research prefix, registered in Australia
  assert.equal(db.lookup("2001:4860:4860::8888"), "US");
  assert.equal(db.lookup("::ffff:8.8.4.4"), "US");
  assert.equal(db.lookup("192.168.0.1"), null);
  assert.equal(db.lookup("::1"), null);
});

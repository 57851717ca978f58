import assert from "node:assert/strict";
import fc from "fast-check";
import { parseRequestDirectives } from "../../../lib/features/cache/directives.ts";
import {
  currentAge,
  decide,
  type EntryTiming,
  type FreshnessRules,
  initialAge,
  isRetained,
  parseAge,
  parseVary,
  storagePolicy,
} from "../../../lib/features/cache/freshness.ts";

const NOW = Date.UTC(2026, 0, 1, 12);
const RULES: FreshnessRules = {
  defaultStaleWhileRevalidateSeconds: 0,
  defaultStaleIfErrorSeconds: 0,
  heuristicFraction: 0.1,
  heuristicMaxSeconds: 86400,
  maxTtlSeconds: 365 * 86400,
  keepStaleSeconds: 86400,
};

function http(ms: number): string {
  return new Date(ms).toUTCString();
}

function facts(
  headers: Record<string, string>,
  o: { status?: number; authorization?: boolean } = {},
) {
  return {
    status: o.status ?? 200,
    headers: new Headers({ date: http(NOW), ...headers }),
    authorization: o.authorization ?? false,
    requestTime: NOW,
    responseTime: NOW,
  };
}

function policy(
  headers: Record<string, string>,
  o: Parameters<typeof facts>[1] = {},
  rules = RULES,
) {
  return storagePolicy(facts(headers, o), rules);
}

Deno.test("storagePolicy() decides what a shared cache stores (RFC 9111 §3)", async (t) => {
  // [name, headers, options, stored?, fresh seconds | reason]
  const table: Array<
    [string, Record<string, string>, Parameters<typeof facts>[1], number | string]
  > = [
    ["max-age", { "cache-control": "max-age=60" }, {}, 60],
    ["s-maxage over max-age", { "cache-control": "max-age=60, s-maxage=5" }, {}, 5],
    [
      "max-age over Expires",
      { "cache-control": "max-age=60", expires: http(NOW + 10_000) },
      {},
      60,
    ],
    ["Expires minus Date", { expires: http(NOW + 30_000) }, {}, 30],
    ["invalid Expires is already expired", { expires: "0", etag: '"a"' }, {}, 0],
    // RFC 9111 §5.3: an Expires that is not an HTTP-date is in the past, however close it looks.
    ...[
      ["missing comma", "Thu 01 Jan 2026 12:01:00 GMT"],
      ["UTC instead of GMT", "Thu, 01 Jan 2026 12:01:00 UTC"],
      ["dashes", "Thu, 01-Jan-2026 12:01:00 GMT"],
      ["one-digit hour", "Thu, 01 Jan 2026 2:01:00 GMT"],
      ["double spaces", "Thu, 01  Jan  2026 12:01:00 GMT"],
      ["lower-case month", "Thu, 01 jan 2026 12:01:00 GMT"],
      ["two-digit year", "Thu, 01 Jan 26 12:01:00 GMT"],
      ["numeric offset", "Thu, 01 Jan 2026 12:01:00 +0000"],
    ].map((
      [what, expires],
    ): [string, Record<string, string>, Parameters<typeof facts>[1], number] => [
      `invalid Expires (${what}) is already expired`,
      { expires, etag: '"a"' },
      {},
      0,
    ]),
    [
      "Expires in the obsolete rfc850 format counts",
      { expires: "Thursday, 01-Jan-26 12:01:00 GMT" },
      {},
      60,
    ],
    [
      "Expires in the obsolete asctime format counts",
      { expires: "Thu Jan  1 12:01:00 2026" },
      {},
      60,
    ],
    ["no-store", { "cache-control": "no-store, max-age=60" }, {}, "no-store"],
    ["private", { "cache-control": "private, max-age=60" }, {}, "private"],
    ["no-cache stored (revalidated on use)", { "cache-control": "no-cache, max-age=60" }, {}, 60],
    ["Vary: * never stored", { "cache-control": "max-age=60", vary: "*" }, {}, "vary-star"],
    [
      "Set-Cookie without public",
      { "cache-control": "max-age=60", "set-cookie": "a=1" },
      {},
      "set-cookie",
    ],
    [
      "Set-Cookie with public (cookie stripped)",
      { "cache-control": "public, max-age=60", "set-cookie": "a=1" },
      {},
      60,
    ],
    [
      "Authorization without public",
      { "cache-control": "max-age=60" },
      { authorization: true },
      "authorization",
    ],
    ["Authorization with public", { "cache-control": "public, max-age=60" }, {
      authorization: true,
    }, 60],
    ["Authorization with s-maxage", { "cache-control": "s-maxage=9" }, { authorization: true }, 9],
    ["Authorization with must-revalidate", { "cache-control": "max-age=9, must-revalidate" }, {
      authorization: true,
    }, 9],
    ["206 is not understood", { "cache-control": "max-age=60" }, { status: 206 }, "status"],
    ["302 without explicit freshness", {}, { status: 302 }, "no-freshness"],
    ["302 with max-age", { "cache-control": "max-age=7" }, { status: 302 }, 7],
    ["404 heuristically cacheable", { "last-modified": http(NOW - 100_000) }, { status: 404 }, 10],
    ["heuristic 10% of Date - Last-Modified", { "last-modified": http(NOW - 1000_000) }, {}, 100],
    ["heuristic capped", { "last-modified": http(NOW - 10 ** 12) }, {}, 86400],
    ["nothing useful", {}, {}, "no-freshness"],
    ["validator only: stored, always stale", { etag: '"x"' }, {}, 0],
    ["malformed max-age is stale", { "cache-control": "max-age=soon", etag: '"x"' }, {}, 0],
    ["enormous max-age clamped", { "cache-control": "max-age=99999999999" }, {}, 365 * 86400],
    [
      "must-understand with understood status ignores no-store",
      { "cache-control": "must-understand, no-store, max-age=5" },
      {},
      5,
    ],
    [
      "must-understand with 206",
      { "cache-control": "must-understand, max-age=5" },
      { status: 206 },
      "must-understand",
    ],
    [
      "must-understand with an unrecognised status and no-store",
      { "cache-control": "must-understand, no-store, max-age=5" },
      { status: 299 },
      "must-understand",
    ],
    [
      "must-understand with an unrecognised 5xx",
      { "cache-control": "must-understand, max-age=5" },
      { status: 599 },
      "must-understand",
    ],
    [
      "unrecognised status with explicit freshness, without must-understand",
      { "cache-control": "max-age=5" },
      { status: 299 },
      5,
    ],
    [
      "gzip stored as it came",
      { "cache-control": "max-age=5", "content-encoding": "gzip" },
      {},
      5,
    ],
    ["br stored", { "cache-control": "max-age=5", "content-encoding": "br" }, {}, 5],
    ["zstd stored", { "cache-control": "max-age=5", "content-encoding": "zstd" }, {}, 5],
    [
      "an unknown content coding is not stored",
      { "cache-control": "max-age=5", "content-encoding": "compress" },
      {},
      "content-encoding",
    ],
    [
      "stacked content codings are not stored",
      { "cache-control": "max-age=5", "content-encoding": "gzip, br" },
      {},
      "content-encoding",
    ],
    [
      "CDN-Cache-Control wins for the edge",
      { "cache-control": "no-store", "cdn-cache-control": "max-age=20" },
      {},
      20,
    ],
    [
      "Outpost-Cache-Control wins over CDN-Cache-Control",
      { "cdn-cache-control": "max-age=20", "outpost-cache-control": "max-age=3" },
      {},
      3,
    ],
    [
      "targeted no-store",
      { "cache-control": "max-age=60", "outpost-cache-control": "no-store" },
      {},
      "no-store",
    ],
    // RFC 9213 §2.1: a targeted field that is not a valid Dictionary, or gives a directive a
    // value of the wrong type, is ignored as a whole: Cache-Control applies.
    ...[
      ["a quoted max-age", 'max-age="20"'],
      ["a decimal max-age", "max-age=20.5"],
      ["a negative max-age", "max-age=-20"],
      ["a token max-age", "max-age=abc"],
      ["a valued flag", "no-store=1, max-age=20"],
      ["an upper-case key", "Max-Age=20"],
      ["a trailing comma", "max-age=20,"],
      ["a missing comma", "max-age=20 no-store"],
      ["an unterminated string", 'max-age=20, x="a'],
      ["a space before a parameter", "max-age=20 ;x"],
    ].map((
      [what, value],
    ): [string, Record<string, string>, Parameters<typeof facts>[1], number] => [
      `CDN-Cache-Control with ${what} is ignored whole`,
      { "cache-control": "max-age=7", "cdn-cache-control": value },
      {},
      7,
    ]),
    [
      "an invalid Outpost-Cache-Control falls back to a valid CDN-Cache-Control",
      {
        "cache-control": "max-age=7",
        "cdn-cache-control": "max-age=20",
        "outpost-cache-control": "max-age=3,,",
      },
      {},
      20,
    ],
    [
      "an empty CDN-Cache-Control is ignored",
      { "cache-control": "no-store", "cdn-cache-control": "" },
      {},
      "no-store",
    ],
    [
      "a valid CDN-Cache-Control with extension members and parameters is obeyed",
      {
        "cache-control": "no-store",
        "cdn-cache-control": 'max-age=20;x=1, ext="a", other=(a b), flag=?0',
      },
      {},
      20,
    ],
    [
      "CDN-Cache-Control no-store=?0 is not no-store",
      { "cache-control": "no-store", "cdn-cache-control": "no-store=?0, max-age=4" },
      {},
      4,
    ],
    [
      "CDN-Cache-Control private with field names as strings",
      { "cdn-cache-control": 'max-age=4, private="x-user"' },
      {},
      4,
    ],
  ];
  for (const [name, headers, o, expected] of table) {
    await t.step(name, () => {
      const p = policy(headers, o);
      if (typeof expected === "string") {
        assert.equal(p.store, false);
        if (!p.store) assert.equal(p.reason, expected);
      } else {
        assert.ok(p.store, JSON.stringify(p));
        if (p.store) assert.equal(p.timing.freshMs, expected * 1000);
      }
    });
  }
  await t.step("route ttl overrides the origin, never no-store", () => {
    const rules = { ...RULES, ttlSeconds: 5 };
    const p = policy({ "cache-control": "max-age=600" }, {}, rules);
    assert.ok(p.store && p.timing.freshMs === 5000);
    assert.equal(policy({ "cache-control": "no-store" }, {}, rules).store, false);
    const bare = policy({}, { status: 302 }, rules);
    assert.ok(bare.store && bare.timing.freshMs === 5000);
  });
  await t.step("default ttl applies only without explicit freshness", () => {
    const rules = { ...RULES, defaultTtlSeconds: 42 };
    const a = policy({}, {}, rules);
    const b = policy({ "cache-control": "max-age=3" }, {}, rules);
    assert.ok(a.store && a.timing.freshMs === 42_000);
    assert.ok(b.store && b.timing.freshMs === 3000);
  });
  await t.step("windows from the origin, config defaults and overrides", () => {
    const p = policy({ "cache-control": "max-age=1, stale-while-revalidate=7, stale-if-error=9" });
    assert.ok(p.store && p.timing.swrMs === 7000 && p.timing.sieMs === 9000);
    const d = policy({ "cache-control": "max-age=1" }, {}, {
      ...RULES,
      defaultStaleWhileRevalidateSeconds: 3,
      defaultStaleIfErrorSeconds: 4,
    });
    assert.ok(d.store && d.timing.swrMs === 3000 && d.timing.sieMs === 4000);
    const o = policy({ "cache-control": "max-age=1, stale-while-revalidate=7" }, {}, {
      ...RULES,
      staleWhileRevalidateSeconds: 0,
    });
    assert.ok(o.store && o.timing.swrMs === 0);
  });
  await t.step("must-revalidate and proxy-revalidate forbid stale windows", () => {
    for (
      const cc of [
        "max-age=1, must-revalidate, stale-if-error=9",
        "max-age=1, proxy-revalidate, stale-while-revalidate=9",
      ]
    ) {
      const p = policy({ "cache-control": cc });
      assert.ok(p.store && p.timing.mustRevalidate && p.timing.swrMs === 0 && p.timing.sieMs === 0);
    }
  });
  await t.step("no-cache and s-maxage forbid stale windows too, config or origin", () => {
    const rules = { ...RULES, staleWhileRevalidateSeconds: 30, staleIfErrorSeconds: 30 };
    for (
      const cc of [
        "max-age=1, no-cache, stale-while-revalidate=9, stale-if-error=9",
        "s-maxage=1, stale-while-revalidate=9, stale-if-error=9",
      ]
    ) {
      const p = policy({ "cache-control": cc }, {}, rules);
      assert.ok(p.store && p.timing.swrMs === 0 && p.timing.sieMs === 0, cc);
    }
  });
  await t.step("Vary names are normalised; private fields and Set-Cookie are stripped", () => {
    const p = policy({
      "cache-control": 'public, max-age=5, private="x-user"',
      vary: "Accept-Language, accept-encoding,  ACCEPT-LANGUAGE",
      "set-cookie": "a=1",
    });
    assert.ok(p.store);
    if (p.store) {
      assert.deepEqual(p.vary, ["accept-encoding", "accept-language"]);
      assert.deepEqual(p.strip, ["set-cookie", "x-user"]);
    }
  });
});

Deno.test("initialAge() follows RFC 9111 §4.2.3", async (t) => {
  const base = { status: 200, authorization: false, requestTime: NOW - 2000, responseTime: NOW };
  await t.step("apparent age from Date, response delay added to Age", () => {
    assert.equal(
      initialAge({ ...base, headers: new Headers({ date: http(NOW - 10_000) }) }),
      10_000,
    );
    assert.equal(
      initialAge({ ...base, headers: new Headers({ date: http(NOW), age: "30" }) }),
      32_000,
    );
  });
  await t.step("negative, garbage and list Age values", () => {
    assert.equal(parseAge("-5"), 0);
    assert.equal(parseAge("abc"), 0);
    assert.equal(parseAge("7, 9"), 7);
    assert.equal(parseAge("99999999999999"), 2147483648);
  });
  await t.step("a Date in the future does not make the age negative", () => {
    assert.equal(initialAge({ ...base, headers: new Headers({ date: http(NOW + 60_000) }) }), 2000);
  });
  await t.step("garbage Date falls back to the response time", () => {
    assert.equal(initialAge({ ...base, headers: new Headers({ date: "yesterday-ish" }) }), 2000);
  });
});

Deno.test("parseVary() normalises names and spots *", () => {
  assert.deepEqual(parseVary(null), []);
  assert.deepEqual(parseVary("B, a"), ["a", "b"]);
  assert.equal(parseVary("a, *"), null);
  assert.deepEqual(parseVary("bad name, ok"), ["ok"]);
});

function timing(o: Partial<EntryTiming> = {}): EntryTiming {
  return {
    responseTime: NOW,
    initialAgeMs: 0,
    freshMs: 60_000,
    swrMs: 30_000,
    sieMs: 300_000,
    noCache: false,
    mustRevalidate: false,
    sMaxAge: false,
    authOk: false,
    keepMs: 86_400_000,
    ...o,
  };
}

Deno.test("decide() picks hit, stale or revalidate (RFC 9111 §4, RFC 5861)", async (t) => {
  const none = parseRequestDirectives(null);
  const table: Array<[string, Partial<EntryTiming>, number, string | null, string, string]> = [
    ["fresh", {}, 10_000, null, "hit", "fresh"],
    ["just expired, inside SWR", {}, 61_000, null, "stale", "swr"],
    ["past SWR", {}, 95_000, null, "revalidate", "expired"],
    ["no-cache always revalidates", { noCache: true }, 1000, null, "revalidate", "no-cache"],
    [
      "must-revalidate never stale",
      { mustRevalidate: true, swrMs: 0 },
      61_000,
      null,
      "revalidate",
      "expired",
    ],
    ["request no-cache", {}, 1000, "no-cache", "revalidate", "request-no-cache"],
    ["request max-age=5 with age 10", {}, 10_000, "max-age=5", "revalidate", "request-max-age"],
    ["request max-age=20 with age 10", {}, 10_000, "max-age=20", "hit", "fresh"],
    ["request min-fresh beyond remaining", {}, 50_000, "min-fresh=20", "revalidate", "min-fresh"],
    ["request min-fresh within remaining", {}, 30_000, "min-fresh=20", "hit", "fresh"],
    ["request max-stale within", { swrMs: 0 }, 70_000, "max-stale=20", "stale", "max-stale"],
    ["request max-stale too little", { swrMs: 0 }, 90_000, "max-stale=20", "revalidate", "expired"],
    ["bare max-stale", { swrMs: 0 }, 10 ** 7, "max-stale", "stale", "max-stale"],
    [
      "max-stale ignored with must-revalidate",
      { swrMs: 0, mustRevalidate: true },
      70_000,
      "max-stale",
      "revalidate",
      "expired",
    ],
    [
      "max-stale ignored with s-maxage",
      { swrMs: 0, sMaxAge: true },
      70_000,
      "max-stale",
      "revalidate",
      "expired",
    ],
    [
      "soft-purged: revalidate",
      { invalidatedAt: NOW + 5000 },
      10_000,
      null,
      "revalidate",
      "purged",
    ],
    ["initial age counts", { initialAgeMs: 55_000 }, 10_000, null, "stale", "swr"],
  ];
  for (const [name, o, elapsed, cc, action, detail] of table) {
    await t.step(name, () => {
      const d = decide(timing(o), NOW + elapsed, cc ? parseRequestDirectives(cc) : none);
      assert.equal(d.action, action);
      assert.equal(d.detail, detail);
    });
  }
  await t.step("stale-if-error within its window only, never with must-revalidate", () => {
    assert.equal(decide(timing(), NOW + 200_000, none).staleIfError, true);
    assert.equal(decide(timing(), NOW + 400_000, none).staleIfError, false);
    assert.equal(
      decide(timing({ mustRevalidate: true, sieMs: 0 }), NOW + 70_000, none).staleIfError,
      false,
    );
    assert.equal(decide(timing({ invalidatedAt: NOW }), NOW + 1000, none).staleIfError, true);
  });
  await t.step("no-cache and s-maxage: never stale, even with windows stored earlier", () => {
    for (const o of [{ noCache: true }, { sMaxAge: true }, { proxy: true }]) {
      const t = timing("proxy" in o ? { mustRevalidate: true } : o);
      assert.equal(decide(t, NOW + 70_000, none).staleIfError, false, JSON.stringify(o));
      assert.equal(decide(t, NOW + 70_000, none).action, "revalidate", JSON.stringify(o));
      const maxStale = parseRequestDirectives("max-stale");
      assert.equal(decide(t, NOW + 70_000, maxStale).action, "revalidate", JSON.stringify(o));
    }
  });
  await t.step("age and ttl", () => {
    const d = decide(timing({ initialAgeMs: 5000 }), NOW + 10_000, none);
    assert.equal(d.ageMs, 15_000);
    assert.equal(d.ttlMs, 45_000);
    assert.equal(currentAge(timing(), NOW - 5000), 0);
  });
  await t.step("retention: fresh + the longest window, or keepStale with a validator", () => {
    assert.equal(isRetained(timing({ keepMs: 0 }), NOW + 359_000), true);
    assert.equal(isRetained(timing({ keepMs: 0 }), NOW + 361_000), false);
    assert.equal(isRetained(timing(), NOW + 80_000_000), true);
  });
});

const RANK = { hit: 0, stale: 1, revalidate: 2 } as const;

const timingArb = fc.record({
  responseTime: fc.constant(NOW),
  initialAgeMs: fc.integer({ min: 0, max: 100_000 }),
  freshMs: fc.integer({ min: 0, max: 1_000_000 }),
  swrMs: fc.integer({ min: 0, max: 1_000_000 }),
  sieMs: fc.integer({ min: 0, max: 1_000_000 }),
  noCache: fc.boolean(),
  mustRevalidate: fc.boolean(),
  sMaxAge: fc.boolean(),
  authOk: fc.boolean(),
  keepMs: fc.integer({ min: 0, max: 1_000_000 }),
  invalidatedAt: fc.option(fc.integer({ min: NOW, max: NOW + 1_000_000 }), { nil: undefined }),
});

const requestArb = fc.record({
  noCache: fc.boolean(),
  noStore: fc.boolean(),
  onlyIfCached: fc.boolean(),
  maxAge: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
  minFresh: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
  maxStale: fc.option(fc.oneof(fc.constant(true as const), fc.integer({ min: 0, max: 2000 })), {
    nil: undefined,
  }),
});

Deno.test("decide() is monotone in age: an older copy is never treated as fresher", () => {
  fc.assert(
    fc.property(
      timingArb,
      requestArb,
      fc.integer({ min: 0, max: 3_000_000 }),
      fc.integer({ min: 0, max: 3_000_000 }),
      (t, req, a, b) => {
        const [early, late] = a <= b ? [a, b] : [b, a];
        const d1 = decide(t, NOW + early, req);
        const d2 = decide(t, NOW + late, req);
        assert.ok(
          RANK[d1.action] <= RANK[d2.action],
          `${d1.action}@${early} → ${d2.action}@${late}`,
        );
        assert.ok(!d2.staleIfError || d1.staleIfError || RANK[d1.action] < 2);
        assert.ok(d2.ageMs >= d1.ageMs);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("decide() serves a hit only while fresh and acceptable to the request", () => {
  fc.assert(
    fc.property(timingArb, requestArb, fc.integer({ min: 0, max: 3_000_000 }), (t, req, dt) => {
      const d = decide(t, NOW + dt, req);
      if (d.action === "hit") {
        assert.ok(d.ttlMs > 0 && !t.noCache && !req.noCache);
        if (req.maxAge !== undefined) assert.ok(d.ageMs <= req.maxAge * 1000);
      }
      // RFC 9111 §4.2.4: never stale under must-/proxy-revalidate, no-cache or s-maxage.
      const forbidden = t.mustRevalidate || t.noCache || t.sMaxAge;
      if (d.action === "stale") assert.ok(!forbidden && !req.noCache);
      if (forbidden) assert.equal(d.staleIfError, false);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("storagePolicy() never stores no-store, private or Vary: *", () => {
  const directive = fc.constantFrom(
    "public",
    "max-age=60",
    "s-maxage=5",
    "no-cache",
    "must-revalidate",
    "stale-while-revalidate=9",
    "immutable",
    "proxy-revalidate",
  );
  fc.assert(
    fc.property(
      fc.array(directive, { maxLength: 5 }),
      fc.constantFrom("no-store", "private"),
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom(200, 203, 301, 404, 410, 500, 302),
      fc.boolean(),
      (others, forbidding, at, status, auth) => {
        const list: string[] = [...others];
        list.splice(Math.min(at, list.length), 0, forbidding);
        const p = policy({ "cache-control": list.join(", "), etag: '"e"' }, {
          status,
          authorization: auth,
        });
        assert.equal(p.store, false);
        const star = policy({ "cache-control": others.join(", "), vary: "accept, *" }, { status });
        assert.equal(star.store, false);
      },
    ),
    { numRuns: 1000 },
  );
});

import assert from "node:assert/strict";
import { sign } from "hono/jwt";
import { ManualClock } from "../../../lib/core/clock.ts";
import { AuthzConfigSchema } from "../../../lib/features/authz/config.ts";
import { AuthError, IdentityUnavailable } from "../../../lib/features/authz/identity.ts";
import { TokenVerifier } from "../../../lib/features/authz/jwt.ts";
import { b64url, SECRET, token } from "./_fixtures.ts";

function jwtConfig(over: Record<string, unknown> = {}) {
  return AuthzConfigSchema.parse({ jwt: over }).jwt;
}

function verifier(over: Record<string, unknown> = {}, clock = new ManualClock(Date.now())) {
  return new TokenVerifier({ jwt: jwtConfig(over), secret: SECRET, clock });
}

async function rejects(v: TokenVerifier, header: string | null, message: RegExp, kind = "invalid") {
  await assert.rejects(async () => await v.verify(header), (e) => {
    assert.ok(e instanceof AuthError, String(e));
    assert.equal(e.kind, kind);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("TokenVerifier.verify() accepts a valid HS256 token and remembers it", async () => {
  const v = verifier();
  const t = await token({ sub: "alice", roles: ["editor", "viewer"] });
  const id = await v.verify(`Bearer ${t}`);
  assert.equal(id.userId, "alice");
  assert.deepEqual(id.roles, ["editor", "viewer"]);
  const again = v.verify(`bearer ${t}`);
  assert.ok(!(again instanceof Promise), "a repeat is answered synchronously");
  assert.equal(again.userId, "alice");
  const scoped = await v.verify(`Bearer ${await token({ sub: "bob", roles: "a b" })}`);
  assert.deepEqual(scoped.roles, ["a", "b"], "space-separated roles are accepted");
});

Deno.test("TokenVerifier.verify() refuses bad tokens", async (t) => {
  const v = verifier();
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, () => Promise<string | null>, RegExp, string?][] = [
    ["no header", () => Promise.resolve(null), /No bearer token/, "missing"],
    ["basic auth", () => Promise.resolve("Basic YWxpY2U6eA=="), /not a bearer/, "missing"],
    ["malformed", () => Promise.resolve("Bearer not.a-token"), /malformed/],
    ["garbage parts", () => Promise.resolve("Bearer aaa.bbb.ccc"), /malformed/],
    ["alg none", () => {
      const unsigned = `${b64url({ alg: "none", typ: "JWT" })}.${
        b64url({ sub: "x", exp: now + 60 })
      }.`;
      return Promise.resolve(`Bearer ${unsigned}`);
    }, /header is not acceptable/],
    [
      "wrong key",
      async () =>
        `Bearer ${await token({ sub: "x" }, {
          secret: "another-secret-of-sufficient-length-0000",
        })}`,
      /signature/,
    ],
    [
      "expired",
      async () => `Bearer ${await token({ sub: "x", exp: now - 3600 }, { nowS: now - 7200 })}`,
      /expired/,
    ],
    [
      "not yet valid",
      async () => `Bearer ${await token({ sub: "x", nbf: now + 600 })}`,
      /not valid yet/,
    ],
    [
      "issued in the future",
      async () => `Bearer ${await token({ sub: "x", iat: now + 600 })}`,
      /future/,
    ],
    ["no exp", async () => `Bearer ${await sign({ sub: "x" }, SECRET, "HS256")}`, /no exp/],
    ["no sub", async () => `Bearer ${await token({ roles: [] })}`, /sub/],
    ["sub with control characters", async () => `Bearer ${await token({ sub: "a\nb" })}`, /sub/],
    ["roles not strings", async () => `Bearer ${await token({ sub: "x", roles: [1] })}`, /roles/],
    [
      "too many roles",
      async () => `Bearer ${await token({ sub: "x", roles: Array(33).fill("r") })}`,
      /roles/,
    ],
    [
      "HS512 instead of HS256",
      async () => `Bearer ${await sign({ sub: "x", exp: now + 60 }, SECRET, "HS512")}`,
      /algorithm/,
    ],
    [
      "oversized header",
      () => Promise.resolve(`Bearer ${"a".repeat(5000)}.b.c`),
      /over 4096 bytes/,
    ],
    ["tampered payload", async () => {
      const [h, , s] = (await token({ sub: "x", roles: [] })).split(".");
      return `Bearer ${h}.${b64url({ sub: "x", roles: ["admin"], exp: now + 60 })}.${s}`;
    }, /signature/],
  ];
  for (const [name, make, message, kind] of cases) {
    await t.step(name, async () => await rejects(v, await make(), message, kind));
  }
});

Deno.test("TokenVerifier.verify() expires remembered tokens by the clock, with leeway", async () => {
  const clock = new ManualClock(Date.now());
  const v = verifier({ leewayS: 10 }, clock);
  const now = Math.floor(clock.now() / 1000);
  const t = await token({ sub: "alice", exp: now + 60 });
  await v.verify(`Bearer ${t}`);
  clock.advance(65_000);
  assert.equal((v.verify(`Bearer ${t}`) as { userId: string }).userId, "alice", "within leeway");
  clock.advance(10_000);
  assert.throws(() => v.verify(`Bearer ${t}`), /expired/);
});

Deno.test("TokenVerifier.verify() checks issuer and audience when configured", async () => {
  const v = verifier({ issuer: "https://id.example", audience: "outpost" });
  await rejects(v, `Bearer ${await token({ sub: "x" })}`, /issuer/);
  await rejects(
    v,
    `Bearer ${await token({ sub: "x", iss: "https://id.example", aud: "other" })}`,
    /audience/,
  );
  const ok = await v.verify(
    `Bearer ${await token({ sub: "x", iss: "https://id.example", aud: "outpost" })}`,
  );
  assert.equal(ok.userId, "x");
});

async function keyPair(alg: "RS256" | "ES256") {
  const params = alg === "RS256"
    ? {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    }
    : { name: "ECDSA", namedCurve: "P-256" };
  const pair = await crypto.subtle.generateKey(params, true, ["sign", "verify"]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const pem = `-----BEGIN PUBLIC KEY-----\n${
    btoa(String.fromCharCode(...spki))
  }\n-----END PUBLIC KEY-----`;
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const privateJwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  return { pem, jwk, privateJwk };
}

Deno.test("TokenVerifier.verify() accepts RS256 and ES256 with a PEM key or a JWKS", async (t) => {
  const now = Math.floor(Date.now() / 1000);
  for (const alg of ["RS256", "ES256"] as const) {
    const keys = await keyPair(alg);
    const claims = { sub: "carol", roles: ["admin"], exp: now + 60 };
    await t.step(`${alg} with a PEM public key`, async () => {
      const v = verifier({ algorithm: alg, publicKey: keys.pem });
      const signed = await sign(claims, { ...keys.privateJwk, alg } as never);
      assert.equal((await v.verify(`Bearer ${signed}`)).userId, "carol");
      await rejects(v, `Bearer ${await token({ sub: "x" })}`, /algorithm/);
    });
    await t.step(`${alg} with a JWKS chosen by kid`, async () => {
      const v = verifier({ algorithm: alg, jwks: { keys: [{ ...keys.jwk, kid: "k1", alg }] } });
      const signed = await sign(claims, { ...keys.privateJwk, alg, kid: "k1" } as never);
      assert.equal((await v.verify(`Bearer ${signed}`)).userId, "carol");
      const unknown = await sign(claims, { ...keys.privateJwk, alg, kid: "k2" } as never);
      await rejects(v, `Bearer ${unknown}`, /key id/);
    });
  }
  await t.step("a JWKS fetched from a URL (and refreshed)", async () => {
    const keys = await keyPair("ES256");
    let served = [{ ...keys.jwk, kid: "a", alg: "ES256" }];
    const fetchJwks = () => Promise.resolve(Response.json({ keys: served }));
    const v = new TokenVerifier({
      jwt: jwtConfig({ algorithm: "ES256", jwksUrl: "https://id.example/jwks.json" }),
      clock: new ManualClock(Date.now()),
      fetch: fetchJwks as typeof fetch,
    });
    const claims = { sub: "dave", exp: now + 60 };
    assert.equal(
      (await v.verify(
        `Bearer ${await sign(claims, { ...keys.privateJwk, alg: "ES256", kid: "a" } as never)}`,
      )).userId,
      "dave",
    );
    served = [{ ...keys.jwk, kid: "b", alg: "ES256" }];
    await v.refreshJwks();
    const b = await sign(
      { ...claims, sub: "erin" },
      { ...keys.privateJwk, alg: "ES256", kid: "b" } as never,
    );
    assert.equal((await v.verify(`Bearer ${b}`)).userId, "erin");
  });
});

Deno.test("TokenVerifier fetches the JWKS again for an unknown key id, at most once per 30 s", async () => {
  const now = Math.floor(Date.now() / 1000);
  const keys = await keyPair("ES256");
  let served = [{ ...keys.jwk, kid: "old", alg: "ES256" }];
  let fetches = 0;
  let release = Promise.resolve();
  const fetchJwks = async () => {
    fetches++;
    await release;
    return Response.json({ keys: served });
  };
  const clock = new ManualClock(Date.now());
  const v = new TokenVerifier({
    jwt: jwtConfig({ algorithm: "ES256", jwksUrl: "https://id.example/jwks.json" }),
    clock,
    fetch: fetchJwks as typeof fetch,
  });
  await v.ready();
  assert.equal(fetches, 1);
  const signedWith = (kid: string, sub: string) =>
    sign({ sub, exp: now + 600 }, { ...keys.privateJwk, alg: "ES256", kid } as never);

  // The issuer rotates: tokens signed with the new key are accepted at once, one fetch for all.
  served = [{ ...keys.jwk, kid: "old", alg: "ES256" }, { ...keys.jwk, kid: "new", alg: "ES256" }];
  let open!: () => void;
  release = new Promise<void>((r) => open = r);
  const waiting = Promise.all(
    ["u1", "u2", "u3"].map(async (sub) => await v.verify(`Bearer ${await signedWith("new", sub)}`)),
  );
  await new Promise((r) => setTimeout(r, 10));
  open();
  assert.deepEqual((await waiting).map((id) => id.userId), ["u1", "u2", "u3"]);
  assert.equal(fetches, 2);

  // Made-up key ids: refused, and no new fetch within 30 s.
  for (let i = 0; i < 5; i++) {
    await rejects(v, `Bearer ${await signedWith(`bogus-${i}`, "x")}`, /key id is not known/);
  }
  assert.equal(fetches, 2);
  clock.advance(30_000);
  await rejects(v, `Bearer ${await signedWith("bogus-late", "x")}`, /key id is not known/);
  assert.equal(fetches, 3);

  // A JWKS that fails keeps the keys there were.
  clock.advance(30_000);
  const failing = new TokenVerifier({
    jwt: jwtConfig({ algorithm: "ES256", jwksUrl: "https://id.example/jwks.json" }),
    clock,
    fetch: (() => {
      let calls = 0;
      return () =>
        calls++ === 0
          ? Promise.resolve(Response.json({ keys: served }))
          : Promise.resolve(new Response("down", { status: 503 }));
    })() as typeof fetch,
  });
  await rejects(failing, `Bearer ${await signedWith("newer", "x")}`, /key id is not known/);
  assert.equal((await failing.verify(`Bearer ${await signedWith("old", "kept")}`)).userId, "kept");
});

Deno.test("TokenVerifier reports keys that cannot load as unavailable, not as the caller's fault", async () => {
  const v = new TokenVerifier({
    jwt: jwtConfig({ algorithm: "RS256", publicKey: "not a pem" }),
    clock: new ManualClock(),
  });
  await assert.rejects(() => v.ready());
  await assert.rejects(
    async () => await v.verify(`Bearer ${await token({ sub: "x" })}`),
    IdentityUnavailable,
  );
});

/** A JWKS verifier whose keys come from `serve` (no network). */
function jwksVerifier(
  serve: (url: string, init?: RequestInit) => Promise<Response>,
  over: Record<string, unknown> = {},
  clock = new ManualClock(Date.now()),
) {
  return new TokenVerifier({
    jwt: jwtConfig({ algorithm: "ES256", jwksUrl: "https://id.example/jwks.json", ...over }),
    clock,
    fetch: serve as typeof fetch,
  });
}

Deno.test("TokenVerifier checks RS256/ES256 time claims against the injected clock, not the system's", async (t) => {
  const keys = await keyPair("ES256");
  const jwk = { ...keys.jwk, kid: "k", alg: "ES256" };
  const signed = (claims: Record<string, unknown>) =>
    sign(claims, { ...keys.privateJwk, alg: "ES256", kid: "k" } as never);
  const at = (iso: string) => new ManualClock(Date.parse(iso));
  const s = (iso: string) => Date.parse(iso) / 1000;
  const sources: [string, Record<string, unknown>][] = [
    ["a JWKS URL", {}],
    ["an inline JWKS", { jwksUrl: undefined, jwks: { keys: [jwk] } }],
  ];
  for (const [source, over] of sources) {
    const make = (clock: ManualClock) =>
      jwksVerifier(() => Promise.resolve(Response.json({ keys: [jwk] })), over, clock);
    await t.step(
      `${source}: a token that expired by the system clock is valid on the edge's`,
      async () => {
        const v = make(at("2020-01-01T00:00:00Z"));
        const id = await v.verify(
          `Bearer ${await signed({ sub: "past", exp: s("2020-01-01T01:00:00Z") })}`,
        );
        assert.equal(id.userId, "past");
      },
    );
    await t.step(`${source}: expired by the edge's clock, with leeway`, async () => {
      const exp = s("2040-01-01T00:00:00Z");
      const within = make(at("2040-01-01T00:00:29Z"));
      assert.equal((await within.verify(`Bearer ${await signed({ sub: "x", exp })}`)).userId, "x");
      const late = make(at("2040-01-01T00:00:30Z"));
      await rejects(late, `Bearer ${await signed({ sub: "x", exp })}`, /^Token expired$/);
    });
    await t.step(`${source}: not valid yet, issued in the future, bad time claims`, async () => {
      const clock = at("2040-01-01T00:00:00Z");
      const now = clock.now() / 1000;
      const v = make(clock);
      await rejects(
        v,
        `Bearer ${await signed({ sub: "x", exp: now + 600, nbf: now + 60 })}`,
        /^Token is not valid yet$/,
      );
      await rejects(
        v,
        `Bearer ${await signed({ sub: "x", exp: now + 600, iat: now + 60 })}`,
        /future/,
      );
      await rejects(
        v,
        `Bearer ${await signed({ sub: "x", exp: "soon" })}`,
        /^Token exp is not a number$/,
      );
      await rejects(v, `Bearer ${await signed({ sub: "x" })}`, /^Token has no exp$/);
    });
  }
});

Deno.test("TokenVerifier refuses RS256/ES256 tokens in the same words as HS256 ones", async () => {
  const now = Math.floor(Date.now() / 1000);
  const keys = await keyPair("ES256");
  const other = await keyPair("ES256");
  const jwk = { ...keys.jwk, kid: "k", alg: "ES256" };
  const v = jwksVerifier(() => Promise.resolve(Response.json({ keys: [jwk] })), {
    issuer: "https://id.example",
    audience: "outpost",
  });
  const good = { sub: "x", exp: now + 60, iss: "https://id.example", aud: "outpost" };
  const signed = (claims: Record<string, unknown>, key = keys.privateJwk) =>
    sign(claims, { ...key, alg: "ES256", kid: "k" } as never);
  assert.equal((await v.verify(`Bearer ${await signed(good)}`)).userId, "x");
  await rejects(
    v,
    `Bearer ${await signed({ ...good, iss: "https://evil.example" })}`,
    /^Token issuer is not accepted$/,
  );
  await rejects(
    v,
    `Bearer ${await signed({ ...good, iss: undefined })}`,
    /^Token issuer is not accepted$/,
  );
  await rejects(
    v,
    `Bearer ${await signed({ ...good, aud: "other" })}`,
    /^Token audience is not accepted$/,
  );
  await rejects(
    v,
    `Bearer ${await signed({ ...good, aud: undefined })}`,
    /^Token has no audience$/,
  );
  await rejects(
    v,
    `Bearer ${await signed(good, other.privateJwk)}`,
    /^Token signature does not match$/,
  );
  const noKid = await sign(good, { ...keys.privateJwk, alg: "ES256" } as never);
  await rejects(v, `Bearer ${noKid}`, /^Token has no key id$/);
  // An HS256 token against an ES256 edge (the classic key-confusion attempt), and alg none.
  const hs = await sign(good, SECRET, "HS256");
  await rejects(v, `Bearer ${hs}`, /^Token algorithm is not accepted$/);
  const none = `${b64url({ alg: "none", typ: "JWT", kid: "k" })}.${b64url(good)}.`;
  await rejects(v, `Bearer ${none}`, /^Token header is not acceptable/);
  const crit = `${b64url({ alg: "ES256", kid: "k", crit: ["exp"] })}.${b64url(good)}.${
    (await signed(good)).split(".")[2]
  }`;
  await rejects(v, `Bearer ${crit}`, /^Token header is not acceptable/);
});

Deno.test("TokenVerifier fetches the JWKS with a timeout and without following redirects", async () => {
  const keys = await keyPair("ES256");
  const jwk = { ...keys.jwk, kid: "a", alg: "ES256" };
  const seen: RequestInit[] = [];
  let answer: () => Promise<Response> = () => Promise.resolve(Response.json({ keys: [jwk] }));
  const v = jwksVerifier((_url, init) => {
    seen.push(init ?? {});
    return answer();
  });
  await v.ready();
  assert.ok(seen[0].signal instanceof AbortSignal, "the fetch can be aborted");
  assert.equal(seen[0].redirect, "manual");
  const token = `Bearer ${await sign({ sub: "kept", exp: Math.floor(Date.now() / 1000) + 60 }, {
    ...keys.privateJwk,
    alg: "ES256",
    kid: "a",
  } as never)}`;
  // What a timed-out fetch rejects with: the refresh fails, the keys there were stay.
  answer = () => Promise.reject(new DOMException("Signal timed out.", "TimeoutError"));
  await assert.rejects(() => v.refreshJwks(), /timed out/);
  assert.equal((await v.verify(token)).userId, "kept");
  answer = () => Promise.resolve(new Response(null, { status: 302, headers: { location: "/x" } }));
  await assert.rejects(
    () => v.refreshJwks(),
    /JWKS https:\/\/id\.example\/jwks\.json answered 302/,
  );
  answer = () => Promise.resolve(Response.json({ nokeys: [] }));
  await assert.rejects(() => v.refreshJwks(), /malformed/);
  assert.equal((await v.verify(token)).userId, "kept");
});

Deno.test("TokenVerifier reads a JWKS from a real server, and refuses one that redirects", async () => {
  const keys = await keyPair("RS256");
  const jwk = { ...keys.jwk, kid: "r1", alg: "RS256" };
  let accept = "";
  await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/moved") return Response.redirect(new URL("/jwks.json", req.url), 302);
    accept = req.headers.get("accept") ?? "";
    return Response.json({ keys: [jwk] });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const make = (path: string) =>
    new TokenVerifier({
      jwt: jwtConfig({ algorithm: "RS256", jwksUrl: base + path }),
      clock: new ManualClock(Date.now()),
    });
  const ok = make("/jwks.json");
  await ok.ready();
  assert.match(accept, /application\/json/);
  const token = await sign({ sub: "rita", exp: Math.floor(Date.now() / 1000) + 60 }, {
    ...keys.privateJwk,
    alg: "RS256",
    kid: "r1",
  } as never);
  assert.equal((await ok.verify(`Bearer ${token}`)).userId, "rita");
  const moved = make("/moved");
  await assert.rejects(() => moved.ready(), /answered 302/);
  await assert.rejects(async () => await moved.verify(`Bearer ${token}`), IdentityUnavailable);
});

Deno.test("TokenVerifier without a first JWKS answers 503 for key ids, keeps the PEM key, and recovers", async () => {
  const now = Math.floor(Date.now() / 1000);
  const keys = await keyPair("ES256");
  const jwk = { ...keys.jwk, kid: "a", alg: "ES256" };
  let up = false;
  let fetches = 0;
  const clock = new ManualClock(Date.now());
  const v = jwksVerifier(
    () => {
      fetches++;
      return Promise.resolve(
        up ? Response.json({ keys: [jwk] }) : new Response("", { status: 503 }),
      );
    },
    { publicKey: keys.pem },
    clock,
  );
  await assert.rejects(() => v.ready(), /answered 503/);
  const withKid = `Bearer ${await sign(
    { sub: "k", exp: now + 600 },
    { ...keys.privateJwk, alg: "ES256", kid: "a" } as never,
  )}`;
  const withoutKid = `Bearer ${await sign(
    { sub: "p", exp: now + 600 },
    { ...keys.privateJwk, alg: "ES256" } as never,
  )}`;
  assert.equal((await v.verify(withoutKid)).userId, "p", "the PEM key works without the JWKS");
  await assert.rejects(async () => await v.verify(withKid), IdentityUnavailable);
  assert.equal(fetches, 2, "the first refused token fetched again");
  up = true;
  await assert.rejects(async () => await v.verify(withKid), IdentityUnavailable);
  assert.equal(fetches, 2, "not again within 30 s");
  clock.advance(30_000);
  assert.equal((await v.verify(withKid)).userId, "k");
  assert.equal(fetches, 3);
});

Deno.test("TokenVerifier tries each key a JWKS lists under one kid", async () => {
  const now = Math.floor(Date.now() / 1000);
  const a = await keyPair("ES256");
  const b = await keyPair("ES256");
  const v = verifier({
    algorithm: "ES256",
    jwks: { keys: [{ ...a.jwk, kid: "same", alg: "ES256" }, { ...b.jwk, kid: "same" }] },
  });
  for (const [key, sub] of [[a, "first"], [b, "second"]] as const) {
    const t = await sign(
      { sub, exp: now + 60 },
      { ...key.privateJwk, alg: "ES256", kid: "same" } as never,
    );
    assert.equal((await v.verify(`Bearer ${t}`)).userId, sub);
  }
});

Deno.test("TokenVerifier refuses an inline JWKS whose keys cannot be imported at start", async () => {
  const v = verifier({
    algorithm: "RS256",
    jwks: { keys: [{ kty: "RSA", kid: "bad", n: "AQAB" }] },
  });
  await assert.rejects(() => v.ready());
  await assert.rejects(
    async () => await v.verify(`Bearer ${await token({ sub: "x" })}`),
    IdentityUnavailable,
  );
});

Deno.test("jose is loaded only by public_keys.ts, and that only by a dynamic import", async () => {
  // So an HS256 edge (the default) never loads it, and deploy.lock still has it.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: new URL("../../../", import.meta.url),
    stdout: "piped",
  }).output();
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      npmPackage?: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
    redirects: Record<string, string>;
  };
  const packageOf = new Map(graph.modules.map((m) => [m.specifier, m.npmPackage ?? ""]));
  const joseImporters = new Set<string>();
  const keysImports: { from: string; dynamic: boolean }[] = [];
  for (const m of graph.modules) {
    for (const dep of m.dependencies ?? []) {
      if (!dep.code) continue;
      const to = graph.redirects[dep.code.specifier] ?? dep.code.specifier;
      if (packageOf.get(to)?.startsWith("jose@")) joseImporters.add(m.specifier);
      if (to.endsWith("/lib/features/authz/public_keys.ts")) {
        keysImports.push({ from: m.specifier, dynamic: dep.isDynamic === true });
      }
    }
  }
  assert.deepEqual(
    [...joseImporters].map((s) => s.slice(s.indexOf("/lib/"))),
    ["/lib/features/authz/public_keys.ts"],
  );
  assert.ok(keysImports.length > 0, "public_keys.ts is reached from main.ts");
  for (const edge of keysImports) assert.ok(edge.dynamic, `${edge.from} imports it statically`);
});

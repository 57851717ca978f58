/**
 * Verifying a token that is not remembered yet, with the key set already cached: the signature
 * check every new token pays. Per algorithm (RS256, ES256 from a JWKS; HS256 for scale):
 * - the former path: hono/jwt's `verify` with the `CryptoKey` found by `kid` in a map;
 * - jose's `jwtVerify` with the remote key set (`createRemoteJWKSet`, fetched once);
 * - the whole `TokenVerifier.verify()` with `cacheSize: 0`, as the edge runs it.
 * A remembered token costs a map lookup and is not measured here (bench/authz_bench.ts has the
 * middleware with it).
 * Run: deno bench --allow-all bench/jwt_bench.ts
 */

import { sign, verify } from "hono/jwt";
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from "jose";
import { systemClock } from "../lib/core/clock.ts";
import { AuthzConfigSchema } from "../lib/features/authz/config.ts";
import { TokenVerifier } from "../lib/features/authz/jwt.ts";

const SECRET = "bench-secret-for-outpost-jwt-0123456789";
const JWKS_URL = "https://id.example/.well-known/jwks.json";
const nowS = Math.floor(Date.now() / 1000);
const CLAIMS = { sub: "alice", roles: ["viewer"], iat: nowS, exp: nowS + 86_400 };

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
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const { key_ops: _ops, ...imported } = jwk;
  return {
    // Imported from the JWK as the former loader did (a generated key object verifies slower).
    publicKey: await crypto.subtle.importKey("jwk", imported, params, false, ["verify"]),
    jwk: { ...jwk, kid: "k1", alg },
    privateJwk: { ...await crypto.subtle.exportKey("jwk", pair.privateKey), kid: "k1", alg },
  };
}

for (const alg of ["RS256", "ES256"] as const) {
  const keys = await keyPair(alg);
  const token = await sign(CLAIMS, keys.privateJwk as never, alg);
  const serve = (() => Promise.resolve(Response.json({ keys: [keys.jwk] }))) as typeof fetch;

  const byKid = new Map([["k1", keys.publicKey]]);
  Deno.bench(`${alg} hono/jwt verify, key by kid (former path)`, {
    group: alg,
    baseline: true,
  }, async () => {
    const key = byKid.get(decodeProtectedHeader(token).kid!)!;
    await verify(token, key, { alg, exp: false, nbf: false, iat: false });
  });

  const remote = createRemoteJWKSet(new URL(JWKS_URL), {
    cooldownDuration: Infinity,
    cacheMaxAge: Infinity,
    [customFetch]: serve,
  });
  await remote.reload();
  Deno.bench(`${alg} jose jwtVerify, cached remote key set`, { group: alg }, async () => {
    await jwtVerify(token, remote, {
      algorithms: [alg],
      currentDate: new Date(systemClock.now()),
      clockTolerance: 30,
    });
  });

  const verifier = new TokenVerifier({
    jwt: AuthzConfigSchema.parse({ jwt: { algorithm: alg, jwksUrl: JWKS_URL, cacheSize: 0 } })
      .jwt,
    clock: systemClock,
    fetch: serve,
  });
  await verifier.ready();
  const header = `Bearer ${token}`;
  Deno.bench(`${alg} TokenVerifier.verify(), not remembered`, { group: alg }, async () => {
    await verifier.verify(header);
  });
}

const hs = new TokenVerifier({
  jwt: AuthzConfigSchema.parse({ jwt: { cacheSize: 0 } }).jwt,
  secret: SECRET,
  clock: systemClock,
});
await hs.ready();
const hsHeader = `Bearer ${await sign(CLAIMS, SECRET, "HS256")}`;
Deno.bench("HS256 TokenVerifier.verify(), not remembered", { group: "HS256" }, async () => {
  await hs.verify(hsHeader);
});

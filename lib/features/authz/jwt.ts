/**
 * Who is asking: a bearer JWT verified with Hono's JWT helpers (`hono/jwt`), HS256 with the
 * `JWT_SECRET`, or RS256/ES256 with a PEM public key or a JWKS. Keys are imported once; tokens
 * that verified are remembered until they expire, so a repeat costs a map lookup. Time claims
 * (`exp`, `nbf`, `iat`) are checked against the injected clock with a small leeway.
 */

import { decode, verify } from "hono/jwt";
import type { Clock } from "../../core/clock.ts";
import type { AuthzConfig } from "./config.ts";

/** A verified caller. */
export interface Identity {
  userId: string;
  roles: string[];
  /** Expiry (ms since the epoch), null when the token has none. */
  expMs: number | null;
  nbfMs: number | null;
}

/** Missing or unacceptable credentials (401). */
export class AuthError extends Error {
  /** `missing` (no credentials) or `invalid` (RFC 6750 `invalid_token`). */
  readonly kind: "missing" | "invalid";
  constructor(kind: "missing" | "invalid", message: string) {
    super(message);
    this.name = "AuthError";
    this.kind = kind;
  }
}

/** The verifier cannot work (keys failed to load): a server fault, not the caller's. */
export class IdentityUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "IdentityUnavailable";
  }
}

/** Options for {@linkcode TokenVerifier}. */
export interface TokenVerifierOptions {
  jwt: AuthzConfig["jwt"];
  /** The HS256 secret (from `JWT_SECRET`). */
  secret?: string;
  clock: Clock;
  /** For `jwksUrl`. */
  fetch?: typeof fetch;
}

type Alg = AuthzConfig["jwt"]["algorithm"];

const IMPORT_PARAMS: Record<Exclude<Alg, "HS256">, RsaHashedImportParams | EcKeyImportParams> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
};
const TOKEN = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*) *$/i;
const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_ROLES = 32;

const REASONS: Record<string, string> = {
  JwtTokenInvalid: "Token is malformed",
  JwtHeaderInvalid: "Token header is not acceptable (unsupported alg, typ or crit)",
  JwtAlgorithmMismatch: "Token algorithm is not accepted",
  JwtTokenSignatureMismatched: "Token signature does not match",
  JwtTokenIssuer: "Token issuer is not accepted",
  JwtTokenAudience: "Token audience is not accepted",
  JwtPayloadRequiresAud: "Token has no audience",
  JwtAlgorithmNotImplemented: "Token algorithm is not supported",
};

function pemBytes(pem: string): Uint8Array<ArrayBuffer> {
  const b64 = pem.replace(/-----(BEGIN|END)[^-]*-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** 1-256 characters, none of them a control character. */
function isUserId(s: string): boolean {
  if (s.length === 0 || s.length > 256) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

interface Keys {
  single: CryptoKey | null;
  byKid: Map<string, CryptoKey>;
}

/** At most one JWKS fetch per this interval for tokens with unknown key ids. */
export const UNKNOWN_KID_REFRESH_MS = 30_000;

/** Verifies bearer tokens. */
export class TokenVerifier {
  readonly #cfg: AuthzConfig["jwt"];
  readonly #clock: Clock;
  readonly #fetch: typeof fetch;
  readonly #cache = new Map<string, Identity>();
  #keys: Promise<Keys>;
  /** The JWKS refresh a token with an unknown key id started, while it runs. */
  #kidRefresh: Promise<void> | null = null;
  #kidRefreshAt = -Infinity;

  constructor(options: TokenVerifierOptions) {
    this.#cfg = options.jwt;
    this.#clock = options.clock;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#keys = this.#importKeys(options.secret);
    this.#keys.catch(() => {}); // surfaced on use (and by `ready()`)
  }

  /** Resolves once keys are imported; rejects with the reason they could not be. */
  async ready(): Promise<void> {
    await this.#keys;
  }

  async #importKeys(secret: string | undefined): Promise<Keys> {
    const { algorithm, publicKey, jwks, jwksUrl } = this.#cfg;
    if (algorithm === "HS256") {
      if (!secret) throw new IdentityUnavailable("No HS256 secret (JWT_SECRET)");
      const key = await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      );
      return { single: key, byKid: new Map() };
    }
    const params = IMPORT_PARAMS[algorithm];
    const keys: Keys = { single: null, byKid: new Map() };
    if (publicKey) {
      keys.single = await crypto.subtle.importKey("spki", pemBytes(publicKey), params, false, [
        "verify",
      ]);
    }
    if (jwks) keys.byKid = await this.#importJwks(jwks.keys);
    if (jwksUrl) keys.byKid = new Map([...keys.byKid, ...await this.#fetchJwks(jwksUrl)]);
    return keys;
  }

  async #importJwks(list: readonly Record<string, unknown>[]): Promise<Map<string, CryptoKey>> {
    const params = IMPORT_PARAMS[this.#cfg.algorithm as Exclude<Alg, "HS256">];
    const out = new Map<string, CryptoKey>();
    for (const jwk of list) {
      if (typeof jwk.kid !== "string" || jwk.use === "enc") continue;
      if (jwk.alg !== undefined && jwk.alg !== this.#cfg.algorithm) continue;
      const { key_ops: _ops, ...rest } = jwk;
      const key = await crypto.subtle.importKey("jwk", rest as JsonWebKey, params, false, [
        "verify",
      ]);
      out.set(jwk.kid, key);
    }
    return out;
  }

  async #fetchJwks(url: string): Promise<Map<string, CryptoKey>> {
    const res = await this.#fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`JWKS ${url} answered ${res.status}`);
    const body = await res.json() as { keys?: unknown };
    if (!Array.isArray(body.keys)) throw new Error(`JWKS ${url} has no keys array`);
    return await this.#importJwks(body.keys as Record<string, unknown>[]);
  }

  /** Re-fetches `jwksUrl` (a background job); keeps the old keys when that fails. */
  async refreshJwks(): Promise<void> {
    const url = this.#cfg.jwksUrl;
    if (!url) return;
    const fresh = await this.#fetchJwks(url);
    const old = await this.#keys.catch(() => null);
    const inline = this.#cfg.jwks ? await this.#importJwks(this.#cfg.jwks.keys) : new Map();
    this.#keys = Promise.resolve({
      single: old?.single ?? null,
      byKid: new Map([...inline, ...fresh]),
    });
  }

  /**
   * The keys after re-fetching `jwksUrl` for a token whose key id is not known: the issuer may
   * have rotated its keys since the last refresh. Concurrent callers share one fetch, and a fetch
   * starts at most once per `UNKNOWN_KID_REFRESH_MS` (made-up key ids cannot hammer the issuer).
   * A failed fetch keeps the keys there were.
   */
  async #keysAfterRotation(): Promise<Keys> {
    if (this.#cfg.jwksUrl && this.#kidRefresh === null) {
      const now = this.#clock.now();
      if (now - this.#kidRefreshAt >= UNKNOWN_KID_REFRESH_MS) {
        this.#kidRefreshAt = now;
        this.#kidRefresh = this.refreshJwks().catch(() => {}).finally(() => {
          this.#kidRefresh = null;
        });
      }
    }
    if (this.#kidRefresh !== null) await this.#kidRefresh;
    return await this.#keys;
  }

  /** Verifies an `Authorization` header; synchronous for a token seen before. */
  verify(header: string | null): Identity | Promise<Identity> {
    if (header === null || header === "") throw new AuthError("missing", "No bearer token");
    if (header.length > this.#cfg.maxTokenBytes) {
      throw new AuthError("invalid", `Authorization header over ${this.#cfg.maxTokenBytes} bytes`);
    }
    const match = TOKEN.exec(header);
    if (match === null) {
      throw /^bearer\b/i.test(header)
        ? new AuthError("invalid", "Bearer token is malformed")
        : new AuthError("missing", "Authorization is not a bearer token");
    }
    const token = match[1];
    const hit = this.#cache.get(token);
    if (hit !== undefined) {
      this.#checkTimes(hit);
      return hit;
    }
    return this.#verifySlow(token);
  }

  #checkTimes(id: Identity): void {
    const now = this.#clock.now();
    const leeway = this.#cfg.leewayS * 1000;
    if (id.expMs !== null && now >= id.expMs + leeway) {
      throw new AuthError("invalid", "Token expired");
    }
    if (id.nbfMs !== null && now + leeway < id.nbfMs) {
      throw new AuthError("invalid", "Token is not valid yet");
    }
  }

  async #verifySlow(token: string): Promise<Identity> {
    let keys: Keys;
    try {
      keys = await this.#keys;
    } catch (e) {
      throw new IdentityUnavailable(`Token keys unavailable: ${(e as Error).message}`, {
        cause: e,
      });
    }
    let header: Record<string, unknown>;
    try {
      header = decode(token).header as unknown as Record<string, unknown>;
    } catch {
      throw new AuthError("invalid", "Token is malformed");
    }
    let key = keys.single;
    if (typeof header.kid === "string" && keys.byKid.size > 0) {
      key = keys.byKid.get(header.kid) ?? null;
      if (key === null) key = (await this.#keysAfterRotation()).byKid.get(header.kid) ?? null;
      if (key === null) throw new AuthError("invalid", "Token key id is not known");
    }
    if (key === null) throw new AuthError("invalid", "Token has no key id");
    let payload: Record<string, unknown>;
    try {
      payload = await verify(token, key, {
        alg: this.#cfg.algorithm,
        iss: this.#cfg.issuer,
        aud: this.#cfg.audience,
        exp: false,
        nbf: false,
        iat: false,
      }) as Record<string, unknown>;
    } catch (e) {
      throw new AuthError("invalid", REASONS[(e as Error).name] ?? "Token is not acceptable");
    }
    const id = this.#identity(payload);
    this.#checkTimes(id);
    if (this.#cfg.cacheSize > 0) {
      if (this.#cache.size >= this.#cfg.cacheSize) {
        this.#cache.delete(this.#cache.keys().next().value!);
      }
      this.#cache.set(token, id);
    }
    return id;
  }

  #identity(payload: Record<string, unknown>): Identity {
    const { sub, exp, nbf, iat } = payload;
    if (typeof sub !== "string" || !isUserId(sub)) {
      throw new AuthError("invalid", "Token sub must be a string of 1-256 characters");
    }
    const timeClaim = (v: unknown, name: string): number | null => {
      if (v === undefined) return null;
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new AuthError("invalid", `Token ${name} is not a number`);
      }
      return v * 1000;
    };
    const expMs = timeClaim(exp, "exp");
    const nbfMs = timeClaim(nbf, "nbf");
    const iatMs = timeClaim(iat, "iat");
    if (expMs === null && this.#cfg.requireExp) throw new AuthError("invalid", "Token has no exp");
    if (iatMs !== null && iatMs > this.#clock.now() + this.#cfg.leewayS * 1000) {
      throw new AuthError("invalid", "Token was issued in the future");
    }
    let roles = payload[this.#cfg.rolesClaim] ?? [];
    if (typeof roles === "string") roles = roles.split(" ").filter(Boolean);
    if (
      !Array.isArray(roles) || roles.length > MAX_ROLES ||
      !roles.every((r) => typeof r === "string" && ROLE.test(r))
    ) {
      throw new AuthError(
        "invalid",
        `Token ${this.#cfg.rolesClaim} must be up to ${MAX_ROLES} role names`,
      );
    }
    return { userId: sub, roles: roles as string[], expMs, nbfMs };
  }
}

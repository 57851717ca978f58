/**
 * Who is asking: a bearer JWT, HS256 with the `JWT_SECRET` (hono/jwt), or RS256/ES256 with a PEM
 * public key or a JWKS (jose, loaded only then: public_keys.ts). Keys are imported once; tokens
 * that verified are remembered until they expire, so a repeat costs a map lookup. Time claims
 * (`exp`, `nbf`, `iat`) are checked against the injected clock with a small leeway.
 */

import { decode, verify } from "hono/jwt";
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import type { AuthzConfig } from "./config.ts";
import { AuthError, type Identity, IdentityUnavailable, REASON } from "./identity.ts";
import type { PublicKeys } from "./public_keys.ts";

/** Options for {@linkcode TokenVerifier}. */
export interface TokenVerifierOptions {
  jwt: AuthzConfig["jwt"];
  /** The HS256 secret (from `JWT_SECRET`). */
  secret?: string;
  clock: Clock;
  /** For `jwksUrl`. */
  fetch?: typeof fetch;
  /** Where a failed JWKS fetch for an unknown key id is reported. */
  log?: Logger;
}

const TOKEN = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*) *$/i;
const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_ROLES = 32;
/** The `alg` values a JWS may name (RFC 7518); any other is a header we do not understand. */
const KNOWN_ALGS = new Set([
  "HS256",
  "HS384",
  "HS512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
]);

/** hono/jwt's errors, by name, in the words every 401 uses. */
const HONO_REASONS: Record<string, string> = {
  JwtTokenInvalid: REASON.malformed,
  JwtHeaderInvalid: REASON.header,
  JwtAlgorithmMismatch: REASON.algorithm,
  JwtTokenSignatureMismatched: REASON.signature,
  JwtTokenIssuer: REASON.issuer,
  JwtTokenAudience: REASON.audience,
  JwtPayloadRequiresAud: REASON.noAudience,
  JwtAlgorithmNotImplemented: REASON.unsupported,
};

/**
 * Refuses a header either library would refuse, in the same words: an `alg` other than the
 * configured one (`none` included), a `typ` other than JWT, any `crit`.
 */
function checkHeader(header: Record<string, unknown>, alg: string): void {
  const { typ } = header;
  if (
    typeof header.alg !== "string" || !KNOWN_ALGS.has(header.alg) || "crit" in header ||
    (typ !== undefined &&
      (typeof typ !== "string" || typ.toLowerCase().replace(/^application\//, "") !== "jwt"))
  ) {
    throw new AuthError("invalid", REASON.header);
  }
  if (header.alg !== alg) throw new AuthError("invalid", REASON.algorithm);
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

type Keys = { secret: CryptoKey; public: null } | { secret: null; public: PublicKeys };

/** Verifies bearer tokens. */
export class TokenVerifier {
  readonly #cfg: AuthzConfig["jwt"];
  readonly #clock: Clock;
  readonly #cache = new Map<string, Identity>();
  readonly #keys: Promise<Keys>;

  constructor(options: TokenVerifierOptions) {
    this.#cfg = options.jwt;
    this.#clock = options.clock;
    this.#keys = this.#importKeys(options);
    this.#keys.catch(() => {}); // surfaced on use (and by `ready()`)
  }

  /** Resolves once keys are imported (and `jwksUrl` fetched); rejects with the reason it failed. */
  async ready(): Promise<void> {
    await (await this.#keys).public?.firstFetch;
  }

  async #importKeys(options: TokenVerifierOptions): Promise<Keys> {
    if (this.#cfg.algorithm === "HS256") {
      if (!options.secret) throw new IdentityUnavailable("No HS256 secret (JWT_SECRET)");
      const key = await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(options.secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      );
      return { secret: key, public: null };
    }
    const { loadPublicKeys } = await import("./public_keys.ts");
    const log = options.log;
    const keys = await loadPublicKeys({
      jwt: this.#cfg,
      clock: this.#clock,
      fetch: options.fetch ?? globalThis.fetch,
      onRotationError: (error) =>
        log?.warn("authz JWKS fetch for an unknown key id failed; the keys there were stay", {
          error,
        }),
    });
    return { secret: null, public: keys };
  }

  /** Re-fetches `jwksUrl` (a background job); keeps the old keys when that fails. */
  async refreshJwks(): Promise<void> {
    await (await this.#keys).public?.refresh();
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
      throw new AuthError("invalid", REASON.expired);
    }
    if (id.nbfMs !== null && now + leeway < id.nbfMs) {
      throw new AuthError("invalid", REASON.notYet);
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
      throw new AuthError("invalid", REASON.malformed);
    }
    checkHeader(header, this.#cfg.algorithm);
    const payload = keys.secret !== null
      ? await this.#verifySecret(token, keys.secret)
      : await keys.public.verify(token, header);
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

  /** HS256; time claims are left to `#checkTimes` (hono/jwt would read the system clock). */
  async #verifySecret(token: string, key: CryptoKey): Promise<Record<string, unknown>> {
    try {
      return await verify(token, key, {
        alg: this.#cfg.algorithm,
        iss: this.#cfg.issuer,
        aud: this.#cfg.audience,
        exp: false,
        nbf: false,
        iat: false,
      }) as Record<string, unknown>;
    } catch (e) {
      throw new AuthError("invalid", HONO_REASONS[(e as Error).name] ?? REASON.other);
    }
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

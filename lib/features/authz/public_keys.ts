/**
 * RS256/ES256 token checking through `jose`: a PEM key (`publicKey`), an inline JWKS (`jwks`) and
 * a JWKS fetched from `jwksUrl` (`createRemoteJWKSet`: the fetch and its timeout, the response's
 * validation, key selection by `kid` and `alg`, imported keys kept, concurrent fetches shared).
 * When to fetch again is decided here, on the edge's clock rather than jose's `Date.now()`: the
 * refresh job, and a token whose `kid` is not known (the issuer may have rotated its keys), at
 * most once per `UNKNOWN_KID_REFRESH_MS`. A failed fetch keeps the keys there were.
 *
 * jwt.ts imports this module only when an asymmetric algorithm is configured, so an HS256 edge
 * (the default) never loads jose.
 */

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  importJWK,
  importSPKI,
  type JWK,
  type JWSHeaderParameters,
  jwtVerify,
  type JWTVerifyOptions,
  type RemoteJWKSet,
} from "jose";
import type { Clock } from "../../core/clock.ts";
import type { AuthzConfig } from "./config.ts";
import { AuthError, IdentityUnavailable, REASON } from "./identity.ts";

/** At most one JWKS fetch per this interval for tokens with unknown key ids. */
const UNKNOWN_KID_REFRESH_MS = 30_000;
/** A JWKS fetch that takes longer is abandoned (the keys there were stay). */
const FETCH_TIMEOUT_MS = 5000;

type KeySet = (header: JWSHeaderParameters) => Promise<CryptoKey>;

/** Options for {@linkcode loadPublicKeys}. */
export interface PublicKeysOptions {
  jwt: AuthzConfig["jwt"];
  clock: Clock;
  fetch: typeof fetch;
  /** A fetch started by an unknown key id failed (the refresh job reports its own). */
  onRotationError?: (error: unknown) => void;
}

/** The keys of an RS256/ES256 edge. */
export interface PublicKeys {
  /** The first fetch of `jwksUrl` (resolved at once without one); rejects when it failed. */
  readonly firstFetch: Promise<void>;
  /** Checks the signature and the `iss`, `aud`, `exp`, `nbf` claims; returns the claims. */
  verify(token: string, header: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Fetches `jwksUrl` again; rejects (keeping the keys there were) when that fails. */
  refresh(): Promise<void>;
}

/**
 * Imports the configured keys. A PEM or an inline JWK that cannot be imported rejects (the
 * configuration is wrong); the first fetch of `jwksUrl` only starts here (see `firstFetch`).
 */
export async function loadPublicKeys(options: PublicKeysOptions): Promise<PublicKeys> {
  const { algorithm: alg, publicKey, jwks, jwksUrl } = options.jwt;
  const pem = publicKey ? await importSPKI(publicKey.trim(), alg) : null;
  let inline: KeySet | null = null;
  if (jwks) {
    const usable = jwks.keys.filter((jwk) =>
      typeof jwk.kid === "string" && jwk.use !== "enc" &&
      (jwk.alg === undefined || jwk.alg === alg)
    ) as JWK[];
    // Imported once now, so that a key that cannot be used stops start-up rather than a request.
    for (const jwk of usable) await importJWK(jwk, alg);
    inline = createLocalJWKSet({ keys: usable });
  }
  const fetchImpl = options.fetch;
  const remote = jwksUrl
    ? createRemoteJWKSet(new URL(jwksUrl), {
      timeoutDuration: FETCH_TIMEOUT_MS,
      // jose never fetches on a request by itself: the job and `#rotate()` decide, by our clock.
      cooldownDuration: Infinity,
      cacheMaxAge: Infinity,
      [customFetch]: async (url, init) => {
        const res = await fetchImpl(url, init);
        if (res.status !== 200) {
          await res.body?.cancel();
          throw new Error(`JWKS ${url} answered ${res.status}`);
        }
        return res;
      },
    })
    : null;
  return new Keys(options, pem, inline, remote);
}

class Keys implements PublicKeys {
  readonly firstFetch: Promise<void>;
  readonly #options: PublicKeysOptions;
  readonly #pem: CryptoKey | null;
  readonly #inline: KeySet | null;
  readonly #remote: RemoteJWKSet | null;
  /** The fetch a token with an unknown key id started, while it runs. */
  #rotation: Promise<void> | null = null;
  #rotationAt = -Infinity;

  constructor(
    options: PublicKeysOptions,
    pem: CryptoKey | null,
    inline: KeySet | null,
    remote: RemoteJWKSet | null,
  ) {
    this.#options = options;
    this.#pem = pem;
    this.#inline = inline;
    this.#remote = remote;
    this.firstFetch = remote ? remote.reload() : Promise.resolve();
    this.firstFetch.catch(() => {}); // surfaced by `ready()` and on use
  }

  async refresh(): Promise<void> {
    await this.#remote?.reload();
  }

  async verify(token: string, header: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { jwt, clock } = this.#options;
    const candidates = await this.#keysFor(header);
    const options: JWTVerifyOptions = {
      algorithms: [jwt.algorithm],
      issuer: jwt.issuer,
      audience: jwt.audience,
      currentDate: new Date(clock.now()),
      clockTolerance: jwt.leewayS,
    };
    let failure: unknown;
    for (const key of candidates) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (e) {
        failure = e;
        if (!(e instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw new AuthError("invalid", reason(failure));
  }

  /** The keys the token may be signed with (more than one when a JWKS repeats a `kid`). */
  async #keysFor(header: Record<string, unknown>): Promise<CryptoKey[]> {
    const kid = header.kid;
    if (typeof kid !== "string" || (this.#inline === null && this.#remote === null)) {
      if (this.#pem !== null) return [this.#pem];
      throw new AuthError("invalid", REASON.noKeyId);
    }
    const selector = { alg: this.#options.jwt.algorithm, kid };
    if (this.#remote !== null) await this.firstFetch.catch(() => {});
    let found = await this.#find(selector);
    if (found.length === 0 && this.#remote !== null) {
      await this.#rotate();
      found = await this.#find(selector);
    }
    if (found.length > 0) return found;
    if (this.#remote !== null && !this.#remote.fresh) {
      throw new IdentityUnavailable(`The JWKS of ${this.#options.jwt.jwksUrl} has not loaded`);
    }
    throw new AuthError("invalid", REASON.unknownKeyId);
  }

  /** The fetched keys win over inline ones with the same `kid`. */
  async #find(selector: JWSHeaderParameters): Promise<CryptoKey[]> {
    // With `cacheMaxAge: Infinity`, `fresh` says whether a fetch ever succeeded; until one has,
    // calling the set would make jose fetch on this request.
    const remote = this.#remote?.fresh ? this.#remote : null;
    for (const set of [remote, this.#inline]) {
      if (set === null) continue;
      try {
        return [await set(selector)];
      } catch (e) {
        if (e instanceof errors.JWKSNoMatchingKey) continue;
        if (e instanceof errors.JWKSMultipleMatchingKeys) {
          const keys: CryptoKey[] = [];
          for await (const key of e) keys.push(key);
          return keys;
        }
        throw new IdentityUnavailable(`Token key ${selector.kid} cannot be used: ${e}`, {
          cause: e,
        });
      }
    }
    return [];
  }

  /**
   * Fetches the JWKS again for a token whose key id is not known. Concurrent callers share one
   * fetch, and one starts at most once per `UNKNOWN_KID_REFRESH_MS` (made-up key ids cannot
   * hammer the issuer). A failed fetch keeps the keys there were.
   */
  async #rotate(): Promise<void> {
    if (this.#rotation === null) {
      const now = this.#options.clock.now();
      if (now - this.#rotationAt >= UNKNOWN_KID_REFRESH_MS) {
        this.#rotationAt = now;
        this.#rotation = this.refresh().catch((error) => this.#options.onRotationError?.(error))
          .finally(() => {
            this.#rotation = null;
          });
      }
    }
    if (this.#rotation !== null) await this.#rotation;
  }
}

/** The 401's words for a jose error. */
function reason(e: unknown): string {
  if (e instanceof errors.JWTExpired) return REASON.expired;
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.reason === "invalid") return `Token ${e.claim} is not a number`;
    switch (e.claim) {
      case "iss":
        return REASON.issuer;
      case "aud":
        return e.reason === "missing" ? REASON.noAudience : REASON.audience;
      case "nbf":
        return REASON.notYet;
    }
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return REASON.signature;
  if (e instanceof errors.JOSEAlgNotAllowed) return REASON.algorithm;
  if (e instanceof errors.JOSENotSupported) return REASON.unsupported;
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return REASON.malformed;
  return REASON.other;
}

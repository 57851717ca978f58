/**
 * Mints a development token: `deno task token -- --sub alice --roles editor,viewer [--ttl 3600]`.
 * HS256 with `JWT_SECRET` (or the development secret the edge also falls back to outside
 * production); `--alg RS256|ES256 --key private.pem` signs with a private key instead.
 * Prints only the token, so `TOKEN=$(deno task -q token -- --sub alice)` works.
 */

import { parseArgs } from "node:util";
import { sign } from "hono/jwt";
import { DEV_JWT_SECRET } from "../lib/features/authz/setup.ts";

const USAGE = `Usage: deno task token -- --sub <user> [--roles a,b] [--ttl seconds]
       [--iss issuer] [--aud audience] [--alg HS256|RS256|ES256 --key private.pem] [--kid id]`;

/** Options for {@linkcode mintToken}. */
export interface MintOptions {
  sub: string;
  roles?: string[];
  ttlS?: number;
  iss?: string;
  aud?: string;
  /** Seconds since the epoch (default: now). */
  now?: number;
}

/** Signs an HS256 token with `secret`. */
export async function mintToken(options: MintOptions, secret: string): Promise<string> {
  return await sign(claims(options), secret, "HS256");
}

function claims(o: MintOptions): Record<string, unknown> {
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    sub: o.sub,
    roles: o.roles ?? [],
    iat: now,
    exp: now + (o.ttlS ?? 3600),
  };
  if (o.iss) payload.iss = o.iss;
  if (o.aud) payload.aud = o.aud;
  return payload;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args.filter((a) => a !== "--"),
      options: {
        sub: { type: "string" },
        roles: { type: "string", default: "" },
        ttl: { type: "string", default: "3600" },
        iss: { type: "string" },
        aud: { type: "string" },
        alg: { type: "string", default: "HS256" },
        key: { type: "string" },
        kid: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const ttl = Number(values.ttl);
  if (!values.sub || !Number.isInteger(ttl) || ttl <= 0) {
    console.error(USAGE);
    Deno.exit(2);
  }
  const options: MintOptions = {
    sub: values.sub,
    roles: values.roles.split(",").map((r) => r.trim()).filter(Boolean),
    ttlS: ttl,
    iss: values.iss,
    aud: values.aud,
  };
  if (values.alg === "HS256") {
    let secret = Deno.env.get("JWT_SECRET");
    if (!secret) {
      console.error("JWT_SECRET is not set: signing with the development secret");
      secret = DEV_JWT_SECRET;
    }
    console.log(await mintToken(options, secret));
    return;
  }
  if (values.alg !== "RS256" && values.alg !== "ES256") {
    console.error(`Unsupported --alg: ${values.alg}\n${USAGE}`);
    Deno.exit(2);
  }
  if (!values.key) {
    console.error(`--alg ${values.alg} needs --key private.pem\n${USAGE}`);
    Deno.exit(2);
  }
  const pem = await Deno.readTextFile(values.key);
  const params = values.alg === "RS256"
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
    : { name: "ECDSA", namedCurve: "P-256" };
  const der = Uint8Array.from(
    atob(pem.replace(/-----(BEGIN|END)[^-]*-----/g, "").replace(/\s+/g, "")),
    (c) => c.charCodeAt(0),
  );
  const key = await crypto.subtle.importKey("pkcs8", der, params, true, ["sign"]);
  const jwk = { ...await crypto.subtle.exportKey("jwk", key), alg: values.alg, kid: values.kid };
  console.log(await sign(claims(options), jwk as Parameters<typeof sign>[1]));
}

if (import.meta.main) await main();

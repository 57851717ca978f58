/**
 * The security suite's fixture: a production-mode edge on a real port (HTTP framing is the point:
 * attacks use raw request targets that `fetch` would normalize) in front of an origin that records
 * every request exactly as it arrived, and answers like the kind of origin each attack targets.
 */

import type { EdgeConfigInput } from "../../lib/core/config.ts";
import { makeConfig, rawHttp, startEdge, type TestEdge } from "../helpers.ts";
import { POLICY, SECRET, token } from "../features/authz/_fixtures.ts";

export { SECRET, token };

/** The operator token the fixture's edge is configured with. */
export const ADMIN = "security-admin-token-0123456789";

/** One request as the origin received it. */
export interface Seen {
  method: string;
  /** The raw path and query (what the origin's router would see). */
  target: string;
  headers: Record<string, string>;
}

/** An origin that records requests; `seen` holds them in order. */
export interface RecordingOrigin extends AsyncDisposable {
  url: string;
  seen: Seen[];
  /** Requests whose path starts with `prefix`. */
  reached(prefix: string): Seen[];
}

const OWN_PREFIXES = ["/items", "/crdt", "/events", "/_central", "/_edge"];

/**
 * Starts the recording origin. `/api/*` echoes as JSON (`no-store`); `/page` builds a link from
 * `X-Forwarded-Host`/`-Proto` (cacheable, as many frameworks do); `/redirect` sends http clients a
 * cacheable 301 to https; every edge-owned prefix answers a cacheable "origin page".
 */
export function startRecordingOrigin(): RecordingOrigin {
  const seen: Seen[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const raw = req.url.slice(req.url.indexOf("/", req.url.indexOf("//") + 2));
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) headers[k] = v;
    seen.push({ method: req.method, target: raw, headers });
    await req.body?.cancel();
    const path = raw.split("?")[0];
    const host = req.headers.get("x-forwarded-host") ?? "origin";
    const proto = req.headers.get("x-forwarded-proto") ?? "http";
    if (path === "/page") {
      return new Response(`<a href="${proto}://${host}/next">next</a>`, {
        headers: { "content-type": "text/html", "cache-control": "public, max-age=300" },
      });
    }
    if (path === "/redirect") {
      if (proto === "http") {
        return new Response(null, {
          status: 301,
          headers: { location: `https://${host}/redirect`, "cache-control": "max-age=300" },
        });
      }
      return new Response("secure", { headers: { "cache-control": "max-age=300" } });
    }
    if (OWN_PREFIXES.some((p) => path.toLowerCase().startsWith(p))) {
      return new Response("ORIGIN PAGE", {
        headers: { "content-type": "text/plain", "cache-control": "public, max-age=600" },
      });
    }
    return Response.json({ method: req.method, target: raw, headers }, {
      headers: { "cache-control": "no-store" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    reached: (prefix) => seen.filter((s) => s.target.toLowerCase().startsWith(prefix)),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A production-mode edge (authorization on, operator token set) in front of `originUrl`. */
export async function productionEdge(
  originUrl: string,
  overrides: Partial<EdgeConfigInput> = {},
  env: Record<string, string> = {},
): Promise<TestEdge> {
  const config = makeConfig(originUrl, {
    mode: "production",
    experiments: [],
    authz: { policy: POLICY },
    ...overrides,
  }, { ADMIN_TOKEN: ADMIN, ...env });
  return await startEdge(config, { secrets: { JWT_SECRET: SECRET } });
}

/** A raw HTTP/1.1 request; answers status, headers (lower-case) and body. */
export async function raw(
  edgeUrl: string,
  requestLine: string,
  headers: Record<string, string> = {},
  body = "",
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const host = headers.host ?? new URL(edgeUrl).host;
  let head = `${requestLine}\r\n`;
  if (!("host" in headers) || headers.host !== "") head += `Host: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (name !== "host") head += `${name}: ${value}\r\n`;
  }
  if (body && !("content-length" in headers) && !("transfer-encoding" in headers)) {
    head += `Content-Length: ${new TextEncoder().encode(body).byteLength}\r\n`;
  }
  head += "Connection: close\r\n\r\n";
  const text = await rawHttp(edgeUrl, head + body);
  const split = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, split).split("\r\n");
  const out: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    out[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let rest = text.slice(split + 4);
  if (out["transfer-encoding"] === "chunked") rest = dechunk(rest);
  return { status: Number(lines[0].split(" ")[1]), headers: out, body: rest };
}

function dechunk(body: string): string {
  let out = "";
  let i = 0;
  while (i < body.length) {
    const eol = body.indexOf("\r\n", i);
    const size = parseInt(body.slice(i, eol), 16);
    if (!(size > 0)) break;
    out += body.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
  return out;
}

/** A bearer header for a fresh token with `roles`. */
export async function bearer(roles: string[], sub = "alice"): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await token({ sub, roles })}` };
}

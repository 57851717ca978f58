/**
 * The built-in demo origin: what `deno task dev`, the tests and the simulator put behind the edge.
 * It behaves like a small real site (JSON API, cacheable pages with validators, errors on demand)
 * and counts what it receives so tests can see exactly how many requests reached it.
 */

import { type Context, Hono } from "hono";
import { z } from "zod";
import { type Clock, systemClock } from "../../core/clock.ts";
import { sha256Hex } from "../../platform/hash.ts";

/** Options for {@linkcode createDemoOrigin}. */
export interface DemoOriginOptions {
  /** Added as `X-Origin-Name` to every response (useful with several demo origins). */
  name?: string;
  clock?: Clock;
  /** Real-time sleeps for `delay_ms`; tests may replace it. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A demo origin and its request counts. */
export interface DemoOrigin {
  fetch(req: Request): Promise<Response>;
  /** Requests received per path (query excluded). */
  stats(): Record<string, number>;
  /** Answer 503 to everything but `/__origin/*` while down. */
  setDown(down: boolean): void;
  reset(): void;
}

const QueryInt = (min: number, max: number, fallback: number) =>
  z.string().regex(/^\d{1,9}$/, "Must be a non-negative integer").transform(Number)
    .pipe(z.number().int().min(min).max(max)).default(fallback);

const CacheableQuery = z.object({
  max_age: QueryInt(0, 31_536_000, 60),
  swr: QueryInt(0, 31_536_000, 30),
  sie: QueryInt(0, 31_536_000, 300),
  delay_ms: QueryInt(0, 60_000, 0),
  size: QueryInt(0, 32 * 1024 * 1024, 0),
  tags: z.string().regex(/^[A-Za-z0-9_.:,-]{1,512}$/).optional(),
  /** A request header the page varies on (its value is echoed in the body). */
  vary: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).optional(),
  /**
   * A request header echoed in the body without sending `Vary` (an origin that counts on the
   * edge to keep an A/B experiment's variants apart).
   */
  echo: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).optional(),
  /** Extra Cache-Control directives, e.g. `must-revalidate` or `no-store`. */
  cc: z.string().regex(/^[a-z0-9=, -]{1,200}$/).optional(),
  /** An `Outpost-Cache-Control` value (directives for the edge only). */
  edge_cc: z.string().regex(/^[a-z0-9=, -]{1,200}$/).optional(),
  /** Set a cookie on the response. */
  cookie: z.enum(["0", "1"]).optional(),
  /** Fail after part of the body has been sent. */
  broken: z.enum(["0", "1"]).optional(),
});

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function etagOf(text: string): Promise<string> {
  return `"${await sha256Hex(text, 8)}"`;
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

function problem(status: number, detail: string): Response {
  return new Response(JSON.stringify({ title: "Demo origin error", status, detail }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}

/** A body of `size` bytes whose content depends on the path (so a torn copy is detectable). */
function filler(path: string, version: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const seed = `${path}#${version}|`;
  for (let i = 0; i < size; i++) out[i] = seed.charCodeAt(i % seed.length);
  return out;
}

/** Builds the demo origin. */
export function createDemoOrigin(options: DemoOriginOptions = {}): DemoOrigin {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? defaultSleep;
  const counts = new Map<string, number>();
  const versions = new Map<string, number>();
  let down = false;
  const app = new Hono();

  app.use("*", async (c, next) => {
    const path = c.req.path;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (down && !path.startsWith("/__origin/")) {
      return problem(503, "The demo origin is down (POST /__origin/fail)");
    }
    await next();
    if (options.name) c.res.headers.set("x-origin-name", options.name);
    // The origin's own clock (tests share a manual clock with the edge, so ages agree).
    if (!c.res.headers.has("date")) c.res.headers.set("date", new Date(clock.now()).toUTCString());
  });

  app.all("/api/echo", async (c) => {
    const url = new URL(c.req.url);
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const headers: Record<string, string> = {};
    for (const [k, v] of c.req.raw.headers) headers[k] = v;
    const text = c.req.method === "GET" || c.req.method === "HEAD" ? "" : await c.req.text();
    return c.json(
      {
        method: c.req.method,
        path: url.pathname,
        query,
        headers,
        body_bytes: new TextEncoder().encode(text).byteLength,
        body: text.length <= 4096 ? text : text.slice(0, 4096),
        origin: options.name ?? null,
      },
      200,
      { "cache-control": "no-store" },
    );
  });

  app.get("/users/:id", async (c) => {
    const id = c.req.param("id");
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      return problem(400, `Invalid user id: ${id.slice(0, 80)}`);
    }
    const version = versions.get(c.req.path) ?? 1;
    const user = { id, name: `User ${id}`, email: `${id}@example.com`, version };
    const etag = await etagOf(JSON.stringify(user));
    if (matchesEtag(c.req.header("if-none-match"), etag)) {
      return c.body(null, 304, { etag, "cache-control": "private, max-age=0, must-revalidate" });
    }
    return c.json(user, 200, { etag, "cache-control": "private, max-age=0, must-revalidate" });
  });

  app.get("/cacheable/*", async (c) => {
    const url = new URL(c.req.url);
    const parsed = CacheableQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return problem(400, `Invalid query: ${issue.path.join(".")}: ${issue.message}`);
    }
    const q = parsed.data;
    if (q.delay_ms > 0) await sleep(q.delay_ms, c.req.raw.signal);
    const path = url.pathname;
    const version = versions.get(path) ?? 1;
    const varied = q.vary ? (c.req.header(q.vary) ?? null) : undefined;
    const echoed = q.echo ? (c.req.header(q.echo) ?? null) : undefined;
    const page = {
      path,
      version,
      note: "cacheable demo page",
      ...(q.vary ? { varied } : {}),
      ...(q.echo ? { echoed } : {}),
    };
    const body = q.size > 0
      ? filler(path, version, q.size)
      : new TextEncoder().encode(JSON.stringify(page));
    const etag = await etagOf(`${path}#${version}#${q.size}#${varied ?? ""}#${echoed ?? ""}`);
    const headers: Record<string, string> = {
      "cache-control": `public, max-age=${q.max_age}, stale-while-revalidate=${q.swr}, ` +
        `stale-if-error=${q.sie}${q.cc ? `, ${q.cc}` : ""}`,
      etag,
      "last-modified": new Date(Math.floor(clock.now() / 1000) * 1000).toUTCString(),
      "content-type": q.size > 0 ? "application/octet-stream" : "application/json",
    };
    if (q.tags) headers["cache-tag"] = q.tags;
    if (q.vary) headers["vary"] = q.vary;
    if (q.edge_cc) headers["outpost-cache-control"] = q.edge_cc;
    if (q.cookie === "1") headers["set-cookie"] = `seen=${version}; Path=/`;
    if (matchesEtag(c.req.header("if-none-match"), etag)) return c.body(null, 304, headers);
    if (q.broken === "1") {
      const half = body.subarray(0, Math.floor(body.length / 2));
      let sent = false;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) return controller.error(new Error("origin reset mid-body"));
          sent = true;
          controller.enqueue(half);
        },
      });
      return new Response(stream, { headers });
    }
    return c.body(body as Uint8Array<ArrayBuffer>, 200, headers);
  });

  // An unsafe method on a cacheable page: bumps its version; `location` names another page.
  // M-SEARCH stands for the extension methods a cache knows nothing about.
  app.on(["POST", "PUT", "PATCH", "DELETE", "M-SEARCH"], "/cacheable/*", (c) => {
    const path = new URL(c.req.url).pathname;
    const version = (versions.get(path) ?? 1) + 1;
    versions.set(path, version);
    const location = c.req.query("location");
    const headers: Record<string, string> = { "cache-control": "no-store" };
    const status = Number(c.req.query("status") ?? 200);
    if (status >= 400 && status <= 599) return problem(status, "Failed on request");
    if (location && /^\/[A-Za-z0-9_\/.-]{0,200}$/.test(location)) headers.location = location;
    return c.json({ path, version, method: c.req.method }, 200, headers);
  });

  app.get("/status/:code", (c) => {
    const text = c.req.param("code");
    const code = /^\d{3}$/.test(text) ? Number(text) : NaN;
    if (!(code >= 200 && code <= 599)) {
      return problem(400, `Invalid status code: ${text.slice(0, 20)}`);
    }
    if (code === 204 || code === 304 || code === 205) return c.body(null, code);
    return c.json({ status: code }, code as 200);
  });

  // Faults on demand, for the edge's tests and the simulator.
  app.get("/faults/hang", async (c) => {
    await sleep(60_000, c.req.raw.signal);
    return c.text("finally");
  });
  app.get("/faults/broken-body", () => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(new TextEncoder().encode("partial body "));
        } else controller.error(new Error("origin reset mid-body"));
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain" } });
  });

  app.get("/__origin/stats", (c) => c.json({ paths: Object.fromEntries(counts) }));
  app.post("/__origin/fail", async (c) => {
    const parsed = z.object({ down: z.boolean() }).safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return problem(400, 'Expected a JSON body like { "down": true }');
    down = parsed.data.down;
    return c.json({ down });
  });
  app.post("/__origin/touch", async (c) => {
    const parsed = z.object({ path: z.string().startsWith("/").max(1024) })
      .safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) {
      return problem(400, 'Expected a JSON body like { "path": "/cacheable/a" }');
    }
    const version = (versions.get(parsed.data.path) ?? 1) + 1;
    versions.set(parsed.data.path, version);
    return c.json({ path: parsed.data.path, version });
  });
  app.post("/__origin/reset", (c) => {
    counts.clear();
    versions.clear();
    down = false;
    return c.json({ reset: true });
  });
  // A WebSocket echo (in `port` mode, where the request is a real connection): the edge relays it.
  const wsEcho = (c: Context) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return problem(426, "Connect to this path with a WebSocket");
    }
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  };
  app.get("/ws/echo", wsEcho);
  app.get("/api/ws/echo", wsEcho);
  app.get("/", (c) =>
    c.html(
      "<!doctype html><title>Outpost demo origin</title><h1>Outpost demo origin</h1>" +
        "<p>Try <a href='/api/echo'>/api/echo</a>, <a href='/users/42'>/users/42</a>, " +
        "<a href='/cacheable/hello'>/cacheable/hello</a>, <a href='/_edge/whereami'>/_edge/whereami</a>.</p>",
      200,
      { "cache-control": "public, max-age=60" },
    ));
  app.notFound(() => problem(404, "No such demo page"));
  app.onError((err) => problem(500, `Demo origin failed: ${err.message}`));

  return {
    fetch: async (req) => await app.fetch(req),
    stats: () => Object.fromEntries(counts),
    setDown: (value) => {
      down = value;
    },
    reset: () => {
      counts.clear();
      versions.clear();
      down = false;
    },
  };
}

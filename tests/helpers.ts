/** Fixtures shared by the tests: configs, a demo origin on port 0, an edge on port 0. */

import { type AppDeps, createApp, type Edge } from "../lib/core/app.ts";
import { type Clock, ManualClock } from "../lib/core/clock.ts";
import { type EdgeConfig, type EdgeConfigInput, loadConfig } from "../lib/core/config.ts";
import { createDemoOrigin, type DemoOrigin } from "../lib/features/proxy/demo_origin.ts";

/**
 * A config for tests: `:memory:` KV, no demo origin of its own, the given origins per region.
 * Authorization is off unless `overrides.authz` is given (tests of other areas send no tokens).
 */
export function makeConfig(
  origins: Partial<Record<"us-west" | "us-east" | "eu-west" | "ap-southeast", string>> | string,
  overrides: Partial<EdgeConfigInput> = {},
  env: Record<string, string> = {},
): EdgeConfig {
  const byRegion = typeof origins === "string"
    ? { "us-west": origins, "us-east": origins, "eu-west": origins, "ap-southeast": origins }
    : origins;
  const regions = [
    { name: "us-west", city: "San Francisco", lat: 37.7749, lon: -122.4194 },
    { name: "us-east", city: "New York", lat: 40.7128, lon: -74.006 },
    { name: "eu-west", city: "London", lat: 51.5074, lon: -0.1278 },
    { name: "ap-southeast", city: "Singapore", lat: 1.3521, lon: 103.8198 },
  ].map((r) => ({ ...r, origin: byRegion[r.name as keyof typeof byRegion] ?? deadOrigin() }));
  // Tests of other areas run in development mode unless they say otherwise (production is the
  // default outside `deno task dev`; tests/security covers it).
  const mode = overrides.mode === undefined && env.OUTPOST_MODE === undefined
    ? { OUTPOST_MODE: "development" }
    : {};
  return loadConfig({
    env: { KV_PATH: ":memory:", ...mode, ...env },
    module: { regions, demoOrigin: { mode: "off" }, authz: { enabled: false }, ...overrides },
  });
}

/** A URL on which nothing listens (bound then released). */
export function deadOrigin(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

/** A demo origin served on an ephemeral port. */
export interface TestOrigin extends AsyncDisposable {
  url: string;
  demo: DemoOrigin;
  /** Requests received per path. */
  count(path: string): number;
}

/**
 * Starts a demo origin on port 0 (with `clock`, its `Date` and `Last-Modified` follow it; with
 * `sleep`, `delay_ms` waits on it instead of real time).
 */
export function startOrigin(
  name = "demo",
  clock?: Clock,
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>,
): TestOrigin {
  const demo = createDemoOrigin({ name, clock, sleep });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => demo.fetch(req),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    demo,
    count: (path) => demo.stats()[path] ?? 0,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** An edge served on an ephemeral port, with its KV and clock. */
export interface TestEdge extends AsyncDisposable {
  url: string;
  edge: Edge;
  kv: Deno.Kv;
  clock: ManualClock;
}

/** Builds an app with `:memory:` KV and a manual clock and serves it on port 0. */
export async function startEdge(
  config: EdgeConfig,
  deps: Partial<Omit<AppDeps, "config">> = {},
): Promise<TestEdge> {
  const kv = deps.kv ?? await Deno.openKv(":memory:");
  const clock = (deps.clock as ManualClock | undefined) ?? new ManualClock(Date.now());
  const edge = createApp({ ...deps, config, kv, clock });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req, info) => edge.fetch(req, info),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    edge,
    kv,
    clock,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await edge.close();
      if (!deps.kv) kv.close();
    },
  };
}

/** Fetches and reads the body as JSON (or text when not JSON). */
export async function get(
  url: string,
  init: RequestInit = {},
): Promise<{ res: Response; body: unknown; text: string }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { res, body, text };
}

/** Sends raw HTTP/1.1 bytes (for what `fetch` refuses to send) and returns the raw response. */
export async function rawHttp(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(new TextEncoder().encode(request));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder().decode(
      chunks.reduce((a, b) => {
        const out = new Uint8Array(a.length + b.length);
        out.set(a);
        out.set(b, a.length);
        return out;
      }, new Uint8Array()),
    );
  } finally {
    try {
      conn.close();
    } catch {
      // already closed by the server
    }
  }
}

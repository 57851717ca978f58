/** The simulator's command line: options, defaults for the full and quick modes, help text. */

import { parseArgs } from "node:util";
import { DEFAULT_REGIONS } from "../../lib/core/fields.ts";
import { CITIES, findCity, REGION_SITES, type RttOptions, SOURCES } from "./latency.ts";
import type { Routing } from "./routing.ts";
import type { EdgeSpec, NodeSettings } from "./topology.ts";

/** The command line's help text. */
export const USAGE = `Usage: deno task sim [--quick] [options]
  --quick                 small delays (RTTs × 0.3), few requests: under a minute
  --requests N            requests per city, scenario and path (default 50; quick 8)
  --concurrency N         concurrent users per city (default 4; quick 2)
  --think-ms N            a user's mean pause between requests (default 100; quick 20)
  --scale X               multiply every RTT by X (default 1; quick 0.3)
  --access-ms N           the users' access-network RTT before scaling (default 10)
  --keep-alive            users reuse one connection per target (default: a new one per request)
  --extra-region R:City   add an edge in City's site named R, e.g. ap-northeast:Tokyo (repeatable)
  --routing geo|rtt       which edge users reach: geo = the product's geo routing (nearest region by
                          distance, the default); rtt = the lowest measured RTT (latency-based DNS)
  --partition REGION      the edge cut off in the CRDT scenario (default ap-southeast)
  --scenarios LIST        comma-separated: latency,analytics,crdt (default all)
  --out DIR               where results go (default sim-results/<time>[-quick])`;

/** Parsed command line. */
export interface SimOptions {
  quick: boolean;
  requests: number;
  concurrency: number;
  thinkMs: number;
  rtt: Required<RttOptions>;
  keepAlive: boolean;
  edges: EdgeSpec[];
  routing: Routing;
  partition: string;
  scenarios: Set<string>;
  out: string;
  settings: NodeSettings;
}

/** Bad command-line input; its message says what was wrong. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function fail(message: string): never {
  throw new UsageError(message);
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) fail(`Invalid --${name}: ${raw}`);
  return n;
}

/** Reads the command line; `null` for --help. Throws {@linkcode UsageError} on bad input. */
export function parseSimArgs(args: string[]): SimOptions | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: args.filter((a) => a !== "--"),
      options: {
        quick: { type: "boolean", default: false },
        requests: { type: "string" },
        concurrency: { type: "string" },
        "think-ms": { type: "string" },
        scale: { type: "string" },
        "access-ms": { type: "string" },
        "keep-alive": { type: "boolean", default: false },
        "extra-region": { type: "string", multiple: true, default: [] },
        partition: { type: "string", default: "ap-southeast" },
        routing: { type: "string", default: "geo" },
        scenarios: { type: "string", default: "latency,analytics,crdt" },
        out: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) return null;
  const quick = values.quick;
  const edges: EdgeSpec[] = DEFAULT_REGIONS.map((r) => ({
    region: r.name,
    city: r.city ?? r.name,
    lat: r.lat,
    lon: r.lon,
    site: REGION_SITES[r.name],
  }));
  for (const spec of values["extra-region"]) {
    const m = /^([a-z0-9-]{1,32}):(.+)$/.exec(spec);
    const city = m ? findCity(m[2]) : undefined;
    if (!m || !city) {
      fail(
        `Invalid --extra-region (region:City of ${CITIES.map((c) => c.name).join(", ")}): ${spec}`,
      );
    }
    if (edges.some((e) => e.region === m[1])) fail(`Region already present: ${m[1]}`);
    edges.push({ region: m[1], city: city.name, lat: city.lat, lon: city.lon, site: city.site });
  }
  if (!edges.some((e) => e.region === values.partition)) {
    fail(`Unknown --partition: ${values.partition}`);
  }
  const routing = values.routing;
  if (routing !== "geo" && routing !== "rtt") fail(`Invalid --routing (geo or rtt): ${routing}`);
  const scenarios = new Set(values.scenarios.split(",").map((s) => s.trim()).filter(Boolean));
  for (const s of scenarios) {
    if (!["latency", "analytics", "crdt"].includes(s)) fail(`Unknown scenario: ${s}`);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  return {
    quick,
    requests: Math.round(positive("requests", values.requests, quick ? 8 : 50)),
    concurrency: Math.round(positive("concurrency", values.concurrency, quick ? 2 : 4)),
    thinkMs: values["think-ms"] === "0"
      ? 0
      : positive("think-ms", values["think-ms"], quick ? 20 : 100),
    rtt: {
      scale: positive("scale", values.scale, quick ? 0.3 : 1),
      accessMs: values["access-ms"] === undefined
        ? 10
        : positive("access-ms", values["access-ms"], 10),
    },
    keepAlive: values["keep-alive"],
    edges,
    routing,
    partition: values.partition,
    scenarios,
    out: values.out ?? `sim-results/${stamp}${quick ? "-quick" : ""}`,
    settings: quick
      ? {
        syncIntervalMs: 250,
        syncTimeoutMs: 1000,
        syncMaxBackoffMs: 1000,
        analyticsFlushSeconds: 1,
      }
      : {
        syncIntervalMs: 1000,
        syncTimeoutMs: 3000,
        syncMaxBackoffMs: 4000,
        analyticsFlushSeconds: 2,
      },
  };
}

/** The run's setup in a few sentences (printed and written with the results). */
export function describe(o: SimOptions): string[] {
  return [
    `Edges: ${o.edges.map((e) => `${e.region} (${e.city}; ${e.site} RTTs)`).join(", ")}. ` +
    "Origin (demo origin) and central collector in us-east (N. Virginia RTTs).",
    `Users: ${CITIES.map((c) => c.name).join(", ")}; each reaches ${
      o.routing === "geo"
        ? "the edge the product's geo routing names (the nearest region by geodesic distance, " +
          "as /_edge/whereami answers)"
        : "the edge with the lowest measured RTT (as latency-based DNS or anycast would)"
    }.`,
    `RTTs: published inter-region averages (${
      SOURCES.filter((s) => s.id !== "assumption").map((s) => s.url).join(" ; ")
    }), ` +
    `plus ${o.rtt.accessMs} ms access network on user links, 1 ms between nodes in one site, ` +
    `× ${o.rtt.scale}${
      o.rtt.scale === 1 ? "" : " (scaled down)"
    }; each direction delayed by RTT/2.`,
    `Client: ${
      o.keepAlive
        ? "one kept-alive connection per target"
        : "a new TCP connection per request (handshake + request = 2 RTT)"
    }, the same on both paths; no TLS (HTTPS would add 1-2 RTT per new connection on either path). ` +
    `${o.requests} requests per city, scenario and path; ${o.concurrency} users per city, each ` +
    `pausing ~${o.thinkMs} ms between requests.`,
  ];
}

/**
 * `deno task sim`: a small planet on one machine. Starts the origin, a central collector and the
 * edge nodes as processes behind emulated WAN links, runs the latency, analytics and CRDT
 * scenarios, prints each as a table and writes results.json, results.md and latency.svg.
 * Run with --help for the options.
 */

import { parseArgs } from "node:util";
import { CITIES, type City, findCity, REGION_SITES, type RttOptions, SOURCES } from "./latency.ts";
import { DEFAULT_REGIONS } from "../../lib/config.ts";
import { type AnalyticsResult, runAnalytics } from "./scenario_analytics.ts";
import { type CrdtResult, runCrdt } from "./scenario_crdt.ts";
import { type LatencyResult, runLatency, SCENARIOS } from "./scenario_latency.ts";
import {
  analyticsLines,
  crdtLines,
  latencyTable,
  mdTable,
  targetLines,
  textTable,
} from "./report.ts";
import { latencySvg } from "./svg.ts";
import { type EdgeSpec, type NodeSettings, startTopology, type Topology } from "./topology.ts";

const USAGE = `Usage: deno task sim [--quick] [options]
  --quick                 small delays (RTTs × 0.3), few requests: under a minute
  --requests N            requests per city, scenario and path (default 50; quick 8)
  --concurrency N         concurrent users per city (default 4; quick 2)
  --think-ms N            a user's mean pause between requests (default 100; quick 20)
  --scale X               multiply every RTT by X (default 1; quick 0.3)
  --access-ms N           the users' access-network RTT before scaling (default 10)
  --keep-alive            users reuse one connection per target (default: a new one per request)
  --extra-region R:City   add an edge in City's site named R, e.g. ap-northeast:Tokyo (repeatable)
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
  partition: string;
  scenarios: Set<string>;
  out: string;
  settings: NodeSettings;
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  Deno.exit(2);
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) fail(`Invalid --${name}: ${raw}`);
  return n;
}

/** Reads the command line (exits with usage on bad input). */
export function parseSimArgs(args: string[]): SimOptions {
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
        scenarios: { type: "string", default: "latency,analytics,crdt" },
        out: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
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

interface NodeHealth {
  node: string;
  status: string;
  requests: number;
  p50_ms: number | null;
  p99_ms: number | null;
  error_rate: number | null;
  reasons: string[];
}

async function health(topo: Topology): Promise<NodeHealth[]> {
  const nodes = [...topo.edges.map((e) => [e.region, e.url]), ["central", topo.centralUrl]];
  return await Promise.all(nodes.map(async ([node, url]) => {
    const h = await (await fetch(`${url}/_edge/health`)).json();
    return {
      node,
      status: h.status,
      requests: h.requests,
      p50_ms: h.p50_ms,
      p99_ms: h.p99_ms,
      error_rate: h.error_rate,
      reasons: Array.isArray(h.reasons) ? h.reasons : [],
    };
  }));
}

function describe(o: SimOptions): string[] {
  return [
    `Edges: ${o.edges.map((e) => `${e.region} (${e.city}; ${e.site} RTTs)`).join(", ")}. ` +
    "Origin (demo origin) and central collector in us-east (N. Virginia RTTs).",
    `Users: ${CITIES.map((c) => c.name).join(", ")}; each reaches the edge with the lowest RTT.`,
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

/** Runs the simulation and writes its results; returns the process exit code. */
export async function runSim(o: SimOptions): Promise<number> {
  const startedAt = new Date();
  const nonce = Date.now().toString(36);
  const cities: readonly City[] = CITIES;
  console.log(
    `Outpost simulator${o.quick ? " (quick)" : ""}\n${
      describe(o).map((l) => `  ${l}`).join("\n")
    }\n`,
  );
  await Deno.mkdir(o.out, { recursive: true });
  const topo = await startTopology({
    edges: o.edges,
    rtt: o.rtt,
    settings: o.settings,
    logDir: `${o.out}/logs`,
  });
  const processes = [
    ["origin", topo.originUrl],
    ["central", topo.centralUrl],
    ...topo.edges.map((e) => [e.region, e.url]),
  ];
  console.log(
    `started ${processes.length} processes and ${topo.links.length} WAN links in ${topo.dir}\n` +
      `nodes: ${processes.map(([n, u]) => `${n} ${u}`).join(", ")}\n`,
  );
  let latency: LatencyResult | null = null;
  let analytics: AnalyticsResult | null = null;
  let crdt: CrdtResult | null = null;
  let nodes: NodeHealth[] = [];
  const md: string[] = [];
  try {
    if (o.scenarios.has("latency")) {
      latency = await runLatency(topo, {
        cities,
        requests: o.requests,
        concurrency: o.concurrency,
        keepAlive: o.keepAlive,
        rtt: o.rtt,
        thinkMs: o.thinkMs,
        nonce,
      });
      md.push("## Latency: direct to the origin vs through the nearest edge", "");
      for (const s of SCENARIOS) {
        const t = latencyTable(latency.rows.filter((r) => r.scenario === s.id));
        console.log(`\n${s.label} (ms)\n${textTable(t.head, t.body, t.align)}`);
        md.push(`### ${s.label} (ms)`, "", mdTable(t.head, t.body, t.align), "");
      }
      const targets = targetLines(latency, o.edges.map((e) => e.region));
      console.log(`\n${targets.join("\n")}\n`);
      md.push("### Targets", "", ...targets.map((l) => `- ${l}`), "");
      if (latency.errors.length) md.push("Errors: " + latency.errors.join("; "), "");
    }
    if (o.scenarios.has("analytics")) {
      analytics = await runAnalytics(topo, {
        cities,
        batchesPerCity: o.quick ? 4 : 10,
        eventsPerBatch: o.quick ? 50 : 100,
        usersPerCity: o.quick ? 50 : 200,
        timeoutMs: 30_000,
        settleMs: o.settings.analyticsFlushSeconds * 1000 + 500,
      });
      const lines = analyticsLines(analytics);
      console.log(`\n${lines.join("\n")}\n`);
      md.push(
        "## Analytics: events at the edge, summaries to central",
        "",
        ...lines.map((l) => `- ${l}`),
        "",
      );
    }
    if (o.scenarios.has("crdt")) {
      crdt = await runCrdt(topo, {
        cities,
        partition: o.partition,
        holdMs: o.quick ? 1500 : 5000,
        writesPerCity: o.quick ? 6 : 20,
        timeoutMs: o.quick ? 15_000 : 30_000,
        settings: o.settings,
        nonce,
      });
      const lines = crdtLines(crdt);
      console.log(`\n${lines.join("\n")}\n`);
      md.push("## CRDT convergence with a partitioned node", "", ...lines.map((l) => `- ${l}`), "");
    }
    nodes = await health(topo);
    const head = ["node", "status", "requests", "p50 ms", "p99 ms", "error rate", "reasons"];
    const body = nodes.map((n) => [
      n.node,
      n.status,
      String(n.requests),
      String(n.p50_ms ?? "n/a"),
      String(n.p99_ms ?? "n/a"),
      n.error_rate === null ? "n/a" : n.error_rate.toFixed(4),
      n.reasons.join("; "),
    ]);
    const align = ["l", "l", "r", "r", "r", "r", "l"] as const;
    const note = "Server-side times include each edge's wait for the origin (us-east), so a far " +
      "edge's p99 can pass the default HEALTH_MAX_P99_MS (200 ms) and mark it unhealthy.";
    console.log(
      `Node health (/_edge/health, server-side times)\n${textTable(head, body, [...align])}\n` +
        `${note}\n`,
    );
    md.push(
      "## Node health (`/_edge/health`, server-side times)",
      "",
      mdTable(head, body, [...align]),
      "",
      note,
      "",
    );
  } finally {
    await topo.stop();
  }
  const finishedAt = new Date();
  const results = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    mode: o.quick ? "quick" : "full",
    options: {
      requests: o.requests,
      concurrency: o.concurrency,
      thinkMs: o.thinkMs,
      scale: o.rtt.scale,
      accessRttMs: o.rtt.accessMs,
      connection: o.keepAlive ? "keep-alive" : "fresh",
      partition: o.partition,
      settings: o.settings,
    },
    sources: SOURCES,
    topology: {
      edges: o.edges,
      cities,
      links: topo.links,
      processes: processes.map(([name, url]) => ({ name, url })),
    },
    latency,
    analytics,
    crdt,
    nodes,
  };
  const markdown = [
    `# Outpost multi-region simulation${o.quick ? " (quick)" : ""}`,
    "",
    `Run ${startedAt.toISOString()} for ${
      (results.durationMs / 1000).toFixed(0)
    } s on ${Deno.build.target}, ` +
    `${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}. The article: "User (Tokyo) → US ` +
    `data center: 400 ms+; → Tokyo edge node: 40 ms".`,
    "",
    ...describe(o).map((l) => `- ${l}`),
    ...cities.filter((c) => c.approximation).map((c) => `- ${c.approximation}.`),
    "",
    ...md,
    "![latency chart](latency.svg)",
  ].join("\n");
  await Deno.writeTextFile(`${o.out}/results.json`, JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(`${o.out}/results.md`, markdown + "\n");
  if (latency) {
    const sub = `${o.edges.map((e) => e.region).join(", ")}; RTT × ${o.rtt.scale}; ` +
      `${latency.connection === "fresh" ? "new connection per request" : "keep-alive"}; ` +
      `${o.requests} requests per bar`;
    await Deno.writeTextFile(`${o.out}/latency.svg`, latencySvg(latency.rows, sub));
  }
  console.log(`written: ${o.out}/results.md, results.json${latency ? ", latency.svg" : ""}`);
  const failures = [
    ...(latency?.errors.length ? ["latency requests failed"] : []),
    ...(analytics && !analytics.exact ? ["analytics totals not exact"] : []),
    ...(crdt && !crdt.converged ? ["CRDTs did not converge"] : []),
  ];
  if (failures.length) console.error(`FAILED: ${failures.join("; ")}`);
  return failures.length ? 1 : 0;
}

if (import.meta.main) Deno.exit(await runSim(parseSimArgs(Deno.args)));

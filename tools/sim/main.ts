/**
 * `deno task sim`: a small planet on one machine. Starts the origin, a central collector and the
 * edge nodes as processes behind emulated WAN links, runs the latency, analytics and CRDT
 * scenarios, prints each as a table and writes results.json, results.md and latency.svg.
 * Run with --help for the options.
 */

import { CITIES, type City, SOURCES } from "./latency.ts";
import { describe, parseSimArgs, type SimOptions, USAGE, UsageError } from "./options.ts";
import { type AnalyticsResult, runAnalytics } from "./scenario_analytics.ts";
import { type CrdtResult, runCrdt } from "./scenario_crdt.ts";
import { type LatencyResult, runLatency, SCENARIOS } from "./scenario_latency.ts";
import {
  analyticsLines,
  crdtLines,
  latencyTable,
  mdTable,
  routingLines,
  targetLines,
  textTable,
} from "./report.ts";
import { latencySvg } from "./svg.ts";
import { SECRETS, startTopology, type Topology } from "./topology.ts";
import { exitUnlessInterrupted } from "../../bench/lib/process.ts";

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
    const h = await (await fetch(`${url}/_edge/health?verbose=1`, {
      headers: { authorization: `Bearer ${SECRETS.admin}` },
    })).json();
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

/** Runs the simulation and writes its results; returns the process exit code. */
async function runSim(o: SimOptions): Promise<number> {
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
    routing: o.routing,
    rtt: o.rtt,
    settings: o.settings,
    logDir: `${o.out}/logs`,
  });
  const md: string[] = [];
  const processes = [
    ["origin", topo.originUrl],
    ["central", topo.centralUrl],
    ...topo.edges.map((e) => [e.region, e.url]),
  ];
  console.log(
    `started ${processes.length} processes and ${topo.links.length} WAN links in ${topo.dir}\n` +
      `nodes: ${processes.map(([n, u]) => `${n} ${u}`).join(", ")}\n`,
  );
  const routes = cities.map((c) => topo.router.route(c));
  const routing = routingLines(routes, o.routing);
  console.log(`${routing.join("\n")}\n`);
  md.push("## Which edge each city reaches", "", ...routing.map((l) => `- ${l}`), "");
  let latency: LatencyResult | null = null;
  let analytics: AnalyticsResult | null = null;
  let crdt: CrdtResult | null = null;
  let nodes: NodeHealth[] = [];
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
      md.push("## Latency: direct to the origin vs through the city's edge", "");
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
      routing: o.routing,
      settings: o.settings,
    },
    sources: SOURCES,
    topology: {
      edges: o.edges,
      cities,
      routes,
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

if (import.meta.main) {
  let options: SimOptions | null;
  try {
    options = parseSimArgs(Deno.args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (options === null) {
    console.log(USAGE);
    Deno.exit(0);
  }
  // Interrupted, the run fails as its nodes stop: the interrupt's exit (130) wins over that.
  exitUnlessInterrupted(await runSim(options));
}

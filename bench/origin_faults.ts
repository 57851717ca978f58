/**
 * Measures how the edge lives through origin faults, on a real clock with real sockets:
 * - recovery: one origin for every region (`ORIGIN_URL`); its listening socket is closed, the
 *   edge is asked every `--pace` ms while it is down, then the socket reopens on the same port.
 *   Reported: requests and milliseconds from the reopening to the first 200.
 * - contention: 200 concurrent adds of distinct elements to one CRDT set on one node (in
 *   process, `:memory:` KV), counted by status, and the time until every answer arrived.
 * Results go to bench/results/origin_faults.{json,md}.
 * Run: deno run --allow-all bench/origin_faults.ts [--pace 10] [--writers 200]; `deno task bench`
 * runs it too.
 */

import { createApp, type Edge } from "../lib/core/app.ts";
import { loadConfig } from "../lib/core/config.ts";
import { writeResult } from "./lib/report.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function serveOrigin(port: number): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { port, hostname: "127.0.0.1", onListen() {} },
    () => new Response("ok", { headers: { "cache-control": "no-store" } }),
  );
}

async function ask(edge: Edge, path: string): Promise<number> {
  const res = await edge.fetch(new Request(`http://edge.test${path}`));
  await res.body?.cancel();
  return res.status;
}

/** Figures of one recovery run. */
export interface RecoveryResult {
  mode: string;
  paceMs: number;
  downMs: number;
  statusesWhileDown: Record<string, number>;
  requestsToRecover: number;
  msToRecover: number;
}

async function measureRecovery(
  mode: "panic" | "probe",
  paceMs: number,
  downMs: number,
): Promise<RecoveryResult> {
  let origin = serveOrigin(0);
  const port = origin.addr.port;
  const config = loadConfig({
    env: { KV_PATH: ":memory:", DEMO_ORIGIN: "off", ORIGIN_URL: `http://127.0.0.1:${port}` },
    module: { proxy: { breaker: { whenAllOut: mode } } },
  });
  const kv = await Deno.openKv(":memory:");
  const edge = createApp({ config, kv });
  const whileDown: Record<string, number> = {};
  try {
    for (let i = 0; i < 5; i++) {
      if (await ask(edge, `/warm/${i}`) !== 200) throw new Error("origin not serving");
    }
    await origin.shutdown();
    const downUntil = performance.now() + downMs;
    while (performance.now() < downUntil) {
      const s = await ask(edge, "/page");
      whileDown[s] = (whileDown[s] ?? 0) + 1;
      await sleep(paceMs);
    }
    origin = serveOrigin(port);
    const reopened = performance.now();
    let requests = 0;
    while (true) {
      requests++;
      if (await ask(edge, "/page") === 200) break;
      if (performance.now() - reopened > 60_000) throw new Error("no recovery within 60 s");
      await sleep(paceMs);
    }
    return {
      mode,
      paceMs,
      downMs,
      statusesWhileDown: whileDown,
      requestsToRecover: requests,
      msToRecover: performance.now() - reopened,
    };
  } finally {
    await origin.shutdown();
    await edge.close();
    kv.close();
  }
}

/** Figures of one contention run. */
export interface ContentionResult {
  writers: number;
  statuses: Record<string, number>;
  elements: number;
  ms: number;
}

async function measureContention(writers: number): Promise<ContentionResult> {
  const config = loadConfig({
    env: { KV_PATH: ":memory:", DEMO_ORIGIN: "off", ORIGIN_URL: "http://127.0.0.1:9" },
    // The writers carry no tokens: this measures the store, not authorization.
    module: { authz: { enabled: false } },
  });
  const kv = await Deno.openKv(":memory:");
  const edge = createApp({ config, kv });
  try {
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: writers }, async (_, i) => {
      const res = await edge.fetch(
        new Request("http://edge.test/crdt/sets/crowd/add", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ element: `e${i}` }),
        }),
      );
      await res.body?.cancel();
      return res.status;
    }));
    const ms = performance.now() - t0;
    const statuses: Record<string, number> = {};
    for (const s of answers) statuses[s] = (statuses[s] ?? 0) + 1;
    const res = await edge.fetch(new Request("http://edge.test/crdt/sets/crowd"));
    const body = await res.json() as { elements: string[] };
    return { writers, statuses, elements: body.elements.length, ms };
  } finally {
    await edge.close();
    kv.close();
  }
}

/** Both recovery modes and the contention run. */
export interface OriginFaultsResult {
  recovery: RecoveryResult[];
  contention: ContentionResult;
}

/** Runs every measurement: recovery in both modes, then contention. */
export async function measureOriginFaults(
  options: { paceMs?: number; writers?: number } = {},
): Promise<OriginFaultsResult> {
  const pace = options.paceMs ?? 10;
  return {
    recovery: [
      await measureRecovery("panic", pace, 1000),
      await measureRecovery("probe", pace, 1000),
    ],
    contention: await measureContention(options.writers ?? 200),
  };
}

/** The results as Markdown. */
export function originFaultsMarkdown(r: OriginFaultsResult, heading = "#"): string {
  const c = r.contention;
  return [
    `${heading} Origin faults`,
    "",
    `${new Date().toISOString()}, ${navigator.hardwareConcurrency} CPUs (shared).`,
    "",
    ...r.recovery.map((x) =>
      `- Recovery, whenAllOut ${x.mode} (one origin, socket closed ${x.downMs} ms, a request ` +
      `every ${x.paceMs} ms): while down ${JSON.stringify(x.statusesWhileDown)}; first 200 ` +
      `after ${x.requestsToRecover} request(s), ${x.msToRecover.toFixed(1)} ms after reopening.`
    ),
    `- Contention (${c.writers} concurrent adds to one set): ${JSON.stringify(c.statuses)}, ` +
    `${c.elements} elements stored, ${c.ms.toFixed(0)} ms.`,
  ].join("\n");
}

if (import.meta.main) {
  const result = await measureOriginFaults({
    paceMs: arg("--pace", 10),
    writers: arg("--writers", 200),
  });
  const md = originFaultsMarkdown(result);
  console.log(md);
  await writeResult("origin_faults", result, md);
}

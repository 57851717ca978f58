/**
 * WebSockets through the edge versus straight to the origin, side by side in one run: the same
 * echo origin (a bare `Deno.serve`, its own process), reached directly and through an edge
 * (`main.ts`, its own process). Both servers are pinned to CPU 1 when `taskset` exists; the
 * clients run here. Targets alternate round by round and the median round is reported.
 * - latency: one socket, one message at a time (32 bytes), round-trip times; the edge's added
 *   latency per message is its p50 minus the direct p50;
 * - throughput: several sockets, each keeping a window of messages in flight, echoed messages/s
 *   (small messages, then 16 KiB ones).
 * Results go to bench/results/websocket.{json,md}; `deno task bench` runs it too.
 * Run: deno run -A bench/websocket.ts [--quick]
 */

import { edgeSettled, freePort, hasTaskset, type Server, startDeno } from "./lib/process.ts";
import { writeResult } from "./lib/report.ts";

/** One target's figures in one round. */
interface Round {
  p50Ms: number;
  p99Ms: number;
  smallPerSec: number;
  largePerSec: number;
}

/** The median round of each target, and the comparison. */
export interface WebSocketResult {
  rounds: number;
  pinned: boolean;
  latencyMessages: number;
  sockets: number;
  window: number;
  seconds: number;
  direct: Round;
  edge: Round;
  /** Edge p50 minus direct p50, per message (ms). */
  addedLatencyMs: number;
  /** Edge throughput as a share of direct (median of per-round ratios). */
  smallRatio: number;
  largeRatio: number;
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve(ws);
    ws.onerror = (e) => reject(new Error((e as ErrorEvent).message));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function latency(url: string, messages: number): Promise<{ p50: number; p99: number }> {
  const ws = await open(url);
  const payload = "x".repeat(32);
  const times: number[] = [];
  let resolve!: () => void;
  ws.onmessage = () => resolve();
  for (let i = 0; i < messages + 50; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      resolve = r;
      ws.send(payload);
    });
    if (i >= 50) times.push(performance.now() - t0); // the first 50 warm up
  }
  ws.close();
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

async function throughput(
  url: string,
  sockets: number,
  window: number,
  seconds: number,
  size: number,
): Promise<number> {
  const payload = new Uint8Array(size);
  const all = await Promise.all(Array.from({ length: sockets }, () => open(url)));
  let echoed = 0;
  let running = true;
  const done = all.map((ws) =>
    new Promise<void>((finish) => {
      let inFlight = 0;
      const fill = () => {
        while (running && inFlight < window) {
          ws.send(payload);
          inFlight++;
        }
        if (!running && inFlight === 0) finish();
      };
      ws.onmessage = () => {
        inFlight--;
        echoed++;
        fill();
      };
      fill();
    })
  );
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const counted = echoed;
  const elapsed = (performance.now() - t0) / 1000;
  running = false;
  await Promise.all(done);
  for (const ws of all) ws.close();
  return counted / elapsed;
}

async function measureOne(url: string, o: Options): Promise<Round> {
  const lat = await latency(url, o.latencyMessages);
  return {
    p50Ms: lat.p50,
    p99Ms: lat.p99,
    smallPerSec: await throughput(url, o.sockets, o.window, o.seconds, 32),
    largePerSec: await throughput(url, o.sockets, 4, o.seconds, 16 * 1024),
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Options {
  rounds: number;
  latencyMessages: number;
  sockets: number;
  window: number;
  seconds: number;
}

/** Starts both servers, measures, stops them. */
export async function measureWebSocket(quick = false): Promise<WebSocketResult> {
  const o: Options = quick
    ? { rounds: 1, latencyMessages: 300, sockets: 8, window: 16, seconds: 1 }
    : { rounds: 3, latencyMessages: 2000, sockets: 16, window: 32, seconds: 3 };
  const pinned = await hasTaskset();
  const cpus = pinned ? "1" : undefined;
  const root = new URL("../", import.meta.url).pathname;
  const originPort = freePort();
  const edgePort = freePort();
  const servers: Server[] = [];
  try {
    servers.push(
      await startDeno(["run", "-A", "bench/servers/ws_echo.ts"], {
        cwd: root,
        env: { PORT: String(originPort) },
        readyUrl: `http://127.0.0.1:${originPort}/`,
        cpus,
      }),
    );
    servers.push(
      await startDeno(["run", "-A", "main.ts"], {
        cwd: root,
        env: {
          PORT: String(edgePort),
          ORIGIN_URL: `http://127.0.0.1:${originPort}`,
          DEMO_ORIGIN: "off",
          KV_PATH: ":memory:",
          LOG_LEVEL: "error",
          OUTPOST_MODE: "development",
          WEBSOCKET_MAX_CONNECTIONS_PER_USER: "1000",
        },
        readyUrl: `http://127.0.0.1:${edgePort}/_edge/health?verbose=1`,
        ready: edgeSettled,
        cpus,
      }),
    );
    const direct: Round[] = [];
    const edge: Round[] = [];
    for (let r = 0; r < o.rounds; r++) {
      direct.push(await measureOne(`ws://127.0.0.1:${originPort}/echo`, o));
      edge.push(await measureOne(`ws://127.0.0.1:${edgePort}/echo`, o));
    }
    const pick = (rs: Round[]): Round => ({
      p50Ms: median(rs.map((x) => x.p50Ms)),
      p99Ms: median(rs.map((x) => x.p99Ms)),
      smallPerSec: median(rs.map((x) => x.smallPerSec)),
      largePerSec: median(rs.map((x) => x.largePerSec)),
    });
    const d = pick(direct);
    const e = pick(edge);
    return {
      rounds: o.rounds,
      pinned,
      latencyMessages: o.latencyMessages,
      sockets: o.sockets,
      window: o.window,
      seconds: o.seconds,
      direct: d,
      edge: e,
      addedLatencyMs: e.p50Ms - d.p50Ms,
      smallRatio: median(edge.map((x, i) => x.smallPerSec / direct[i].smallPerSec)),
      largeRatio: median(edge.map((x, i) => x.largePerSec / direct[i].largePerSec)),
    };
  } finally {
    for (const s of servers.reverse()) await s.stop();
  }
}

/** The results as Markdown. */
export function websocketMarkdown(r: WebSocketResult, heading = "#"): string {
  const f = (n: number, d = 0) => n.toFixed(d);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `${heading} WebSockets: through the edge vs direct`,
    "",
    `${new Date().toISOString()}, ${navigator.hardwareConcurrency} CPUs (shared), servers ` +
    `${r.pinned ? "pinned to CPU 1" : "not pinned (no taskset)"}, median of ${r.rounds} ` +
    `alternating round(s).`,
    "",
    "| target | p50 ms / message | p99 ms | 32 B messages/s | 16 KiB messages/s |",
    "| --- | ---: | ---: | ---: | ---: |",
    `| direct to the origin | ${f(r.direct.p50Ms, 3)} | ${f(r.direct.p99Ms, 3)} | ` +
    `${f(r.direct.smallPerSec)} | ${f(r.direct.largePerSec)} |`,
    `| through the edge | ${f(r.edge.p50Ms, 3)} | ${f(r.edge.p99Ms, 3)} | ` +
    `${f(r.edge.smallPerSec)} (${pct(r.smallRatio)}) | ${f(r.edge.largePerSec)} ` +
    `(${pct(r.largeRatio)}) |`,
    "",
    `- Added latency per message (edge p50 − direct p50, one socket, ${r.latencyMessages} ` +
    `sequential 32-byte round trips): ${f(r.addedLatencyMs, 3)} ms.`,
    `- Throughput: ${r.sockets} sockets, each with ${r.window} messages in flight (4 for 16 KiB), ` +
    `${r.seconds} s per target per round; echoed messages per second.`,
  ].join("\n");
}

if (import.meta.main) {
  const result = await measureWebSocket(Deno.args.includes("--quick"));
  const md = websocketMarkdown(result);
  console.log(md);
  console.log(`\nwritten: ${await writeResult("websocket", result, md)}`);
}

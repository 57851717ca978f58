/**
 * What compression costs and saves, side by side in one run. The same ~24 KB HTML page served
 * by bare `Deno.serve` as it is, as a copy compressed once (what the edge keeps per item), with a
 * `CompressionStream` per response (br, gzip), and with `Deno.serve`'s `automaticCompression`;
 * then Outpost's memory-tier hit of that page for a client without and with br. Figures:
 * requests/s and server CPU per request (wrk), and the bytes each response puts on the wire for
 * the HTML and a ~4 KB JSON document.
 * Usage: deno run -A bench/load/compression.ts [--duration 5] [--connections 50] [--rounds 3]
 */

import { rawFetch } from "../../lib/features/proxy/raw_fetch.ts";
import { edgeSettled, freePort, hasTaskset, type Server, startDeno } from "../lib/process.ts";
import { type LoadOptions, type LoadSuite, runStandalone, withRatios } from "../lib/report.ts";
import { cpuLine, cpuShare, hasWrk, medianCpuUs, runWrkRounds } from "../lib/wrk.ts";

const BROWSER = "gzip, deflate, br, zstd";

/** Body and header bytes of one response as sent (headers: `name: value\r\n` each). */
async function wireBytes(
  url: string,
  acceptEncoding: string | null,
): Promise<{ body: number; headers: number; coding: string | null }> {
  const client = rawFetch();
  const res = await client(url, {
    headers: acceptEncoding === null ? {} : { "accept-encoding": acceptEncoding },
  });
  const body = (await res.arrayBuffer()).byteLength;
  let headers = 0;
  res.headers.forEach((value, name) => (headers += name.length + value.length + 4));
  return { body, headers, coding: res.headers.get("content-encoding") };
}

/** Runs the suite and returns it. */
export async function run(opts: LoadOptions = {}): Promise<LoadSuite> {
  const title = "Compression: per-response work vs a copy made once";
  const baseline = "Deno.serve, identity";
  if (!(await hasWrk())) return withRatios(title, baseline, [], [], ["wrk"]);
  const pin = await hasTaskset();
  const cpus = pin ? "1" : undefined;
  const root = new URL("../../", import.meta.url).pathname;
  const modes = ["identity", "copy", "stream-br", "stream-gzip", "auto"] as const;
  const started: Server[] = [];
  try {
    const servers: Record<string, Server> = {};
    for (const mode of modes) {
      const port = freePort();
      servers[mode] = await startDeno(["run", "-A", "bench/servers/compress.ts"], {
        cwd: root,
        env: { PORT: String(port), MODE: mode },
        readyUrl: `http://127.0.0.1:${port}/page.html`,
        cpus,
      });
      started.push(servers[mode]);
    }
    const edgePort = freePort();
    const edge = await startDeno(["run", "-A", "main.ts"], {
      cwd: root,
      env: {
        PORT: String(edgePort),
        DEMO_ORIGIN: "off",
        ORIGIN_URL: servers.identity.url,
        KV_PATH: ":memory:",
        LOG_LEVEL: "error",
        OUTPOST_MODE: "development",
      },
      readyUrl: `http://127.0.0.1:${edgePort}/_edge/health?verbose=1`,
      ready: edgeSettled,
      cpus,
    });
    started.push(edge);
    // Fill the edge (one entry per page: the origin sends no Vary) and its compressed copies.
    for (const path of ["/page.html", "/data.json"]) {
      for (const ae of [null, BROWSER, "gzip"]) await wireBytes(`${edge.url}${path}`, ae);
    }

    const page = "/page.html";
    const br = { "accept-encoding": BROWSER };
    const targets = [
      { name: baseline, url: `${servers.identity.url}${page}`, pid: servers.identity.pid },
      {
        name: "Deno.serve, br copy made once",
        url: `${servers.copy.url}${page}`,
        pid: servers.copy.pid,
        options: { headers: br },
      },
      {
        name: "Deno.serve, CompressionStream br per response",
        url: `${servers["stream-br"].url}${page}`,
        pid: servers["stream-br"].pid,
        options: { headers: br },
      },
      {
        name: "Deno.serve, CompressionStream gzip per response",
        url: `${servers["stream-gzip"].url}${page}`,
        pid: servers["stream-gzip"].pid,
        options: { headers: { "accept-encoding": "gzip" } },
      },
      {
        name: "Deno.serve, automaticCompression (br)",
        url: `${servers.auto.url}${page}`,
        pid: servers.auto.pid,
        options: { headers: br },
      },
      { name: "Outpost hit, identity client", url: `${edge.url}${page}`, pid: edge.pid },
      {
        name: "Outpost hit, browser (br copy)",
        url: `${edge.url}${page}`,
        pid: edge.pid,
        options: { headers: br },
      },
      // Forwarding cost of the two transports (an uncacheable URL, passed by hit-for-pass):
      // identity goes through the global fetch, a coding through node:http.
      {
        name: "Outpost forward, identity client (fetch)",
        url: `${edge.url}/nostore`,
        pid: edge.pid,
      },
      {
        name: "Outpost forward, browser (node:http)",
        url: `${edge.url}/nostore`,
        pid: edge.pid,
        options: { headers: br },
      },
    ];
    const sizes: string[] = [];
    for (const t of targets) {
      const w = await wireBytes(t.url, t.options?.headers["accept-encoding"] ?? null);
      sizes.push(`${t.name}: ${w.body} B body (${w.coding ?? "identity"}) + ${w.headers} B fields`);
    }
    const perHit: string[] = [];
    for (const path of ["/page.html", "/data.json"]) {
      for (const ae of [null, "gzip", BROWSER]) {
        const w = await wireBytes(`${edge.url}${path}`, ae);
        perHit.push(
          `${path} for ${
            ae === null ? "a client without Accept-Encoding" : `"${ae}"`
          }: ${w.body} B ` +
            `(${w.coding ?? "identity"}) + ${w.headers} B of fields`,
        );
      }
    }
    const rows = await runWrkRounds(targets, {
      durationS: opts.durationS ?? 5,
      connections: opts.connections ?? 50,
      rounds: opts.rounds ?? 3,
      threads: 1,
      cpus: pin ? "0" : undefined,
    });
    const cheapest = rows.filter((r) => r.name.startsWith("Deno.serve, ") && r.name !== baseline)
      .map((r) => ({ name: r.name, us: medianCpuUs(r) }))
      .filter((r) => r.us !== null)
      .sort((a, b) => a.us! - b.us!);
    return withRatios(title, baseline, rows, [
      `wrk -t1 -c${opts.connections ?? 50} -d${opts.durationS ?? 5}s, median of ${
        opts.rounds ?? 3
      } alternating rounds, measured under shared load.`,
      pin
        ? "Servers pinned to CPU 1, wrk to CPU 0 (taskset)."
        : "taskset missing: servers and wrk share the cores.",
      `Server CPU per request: ${cpuLine(rows)}.`,
      `Cheapest way to send a compressed page, by CPU per request: ${
        cheapest.map((c) => `${c.name} ${c.us!.toFixed(1)} µs`).join(" < ")
      }. The edge keeps one compressed copy per item and coding, made once (node:zlib, br ` +
      `quality 5 / gzip level 6); a hit then costs what sending those bytes costs.`,
      `Outpost br hit vs identity hit by CPU per request: ${
        cpuShare(rows, "Outpost hit, browser (br copy)", "Outpost hit, identity client")
      } (100% = as cheap). Forwarding a browser's request (node:http, to keep the encoded body) ` +
      `vs an identity one (global fetch), by CPU per request: ${
        cpuShare(
          rows,
          "Outpost forward, browser (node:http)",
          "Outpost forward, identity client (fetch)",
        )
      }.`,
      `Bytes per response: ${sizes.join("; ")}.`,
      `Bytes per Outpost hit: ${perHit.join("; ")}.`,
    ]);
  } finally {
    for (const s of started.reverse()) await s.stop();
  }
}

if (import.meta.main) await runStandalone("compression", run);

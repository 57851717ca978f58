/**
 * Latency per city, direct to the origin vs through the city's edge, for four kinds of
 * request. Every user sends the same requests both ways with the same client behaviour (a fresh
 * TCP connection per request by default), alternating which goes first, so machine noise falls
 * on both sides alike.
 */

import { mintToken } from "../token.ts";
import { SimClient, type SimResponse } from "./http_client.ts";
import { type City, clientRttMs, nodeRttMs, ORIGIN_SITE, type RttOptions } from "./latency.ts";
import { Progress, type Stats, summarize } from "./progress.ts";
import { SECRETS, type Topology } from "./topology.ts";

/** The kinds of request measured. */
export type Scenario = "warm" | "cold" | "api" | "authz";

/** Each scenario with its label. */
export const SCENARIOS: ReadonlyArray<{ id: Scenario; label: string }> = [
  { id: "warm", label: "cacheable page, warm (edge cache hit)" },
  { id: "cold", label: "cacheable page, cold (edge cache miss)" },
  { id: "api", label: "GET /api/echo (proxied to the origin)" },
  { id: "authz", label: "POST /api/echo with a JWT (authorized at the edge, then proxied)" },
];

/** One city and scenario: both paths side by side. */
export interface LatencyRow {
  city: string;
  edge: string;
  scenario: Scenario;
  direct: Stats;
  viaEdge: Stats;
  /** What the emulated RTTs alone predict (ms), without any processing time. */
  model: { directMs: number; edgeMs: number };
  /** viaEdge.p50 / direct.p50. */
  ratio: number;
  edgeNotSlower: boolean;
  /** Edge p50 vs direct p50: a tie when within max(1 ms, 2%) (noise). */
  verdict: "faster" | "tie" | "slower";
  /** Edge responses that said `X-Cache: HIT` (warm) or `MISS` (cold), of `viaEdge.n`. */
  expectedCacheOutcomes?: number;
  errors: number;
}

/** The scenario's results. */
export interface LatencyResult {
  connection: "fresh" | "keep-alive";
  requestsPerCell: number;
  concurrency: number;
  thinkMs: number;
  rows: LatencyRow[];
  errors: string[];
}

/** Options for {@linkcode runLatency}. */
export interface LatencyOptions {
  cities: readonly City[];
  requests: number;
  concurrency: number;
  keepAlive: boolean;
  rtt: RttOptions;
  /** A user's mean pause between two request pairs (uniform in 0.5–1.5×), ms. */
  thinkMs: number;
  /** Distinguishes this run's cold URLs from any earlier run's. */
  nonce: string;
}

/** A URL-safe ASCII name of a city ("São Paulo" → "sao-paulo"). */
export function slug(name: string): string {
  return name.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** The headers a user in `city` sends (a CDN in front would set these). */
export function geoHeaders(city: City): Record<string, string> {
  return { "x-user-lat": String(city.lat), "x-user-lon": String(city.lon) };
}

/** Compares two p50s: a tie within max(1 ms, 2%) of the direct one. */
export function verdict(edge: number, direct: number): "faster" | "tie" | "slower" {
  if (Math.abs(edge - direct) <= Math.max(1, direct * 0.02)) return "tie";
  return edge < direct ? "faster" : "slower";
}

interface Cell {
  direct: number[];
  edge: number[];
  outcomes: number;
  errors: number;
}

/** Runs the scenario for every city at once; cities share nothing but the machine. */
export async function runLatency(topo: Topology, o: LatencyOptions): Promise<LatencyResult> {
  const total = o.cities.length * SCENARIOS.length * o.requests * 2;
  const progress = new Progress("latency", total);
  const errors: string[] = [];
  const rows: LatencyRow[] = [];
  const handshakes = o.keepAlive ? 1 : 2;

  async function runCity(city: City): Promise<void> {
    const edge = topo.edgeFor(city);
    const ports = {
      direct: topo.originFromCity.get(city.name)!.port,
      edge: edge.fromCity.get(city.name)!.port,
    };
    const s = slug(city.name);
    const token = await mintToken({ sub: `sim-${s}`, roles: ["editor"], ttlS: 3600 }, SECRETS.jwt);
    const geo = geoHeaders(city);
    const client = new SimClient({ keepAlive: o.keepAlive });

    function request(scenario: Scenario, i: number, target: "direct" | "edge") {
      const port = ports[target];
      switch (scenario) {
        case "warm":
          return client.request(port, {
            path: `/cacheable/sim/${s}/page?max_age=3600`,
            headers: geo,
          });
        case "cold":
          return client.request(port, {
            path: `/cacheable/sim/${s}/${o.nonce}-${target}-${i}?max_age=3600`,
            headers: geo,
          });
        case "api":
          return client.request(port, { path: `/api/echo?city=${s}&i=${i}`, headers: geo });
        case "authz":
          return client.request(port, {
            method: "POST",
            path: "/api/echo",
            headers: {
              ...geo,
              authorization: `Bearer ${token}`,
              "content-type": "application/json",
            },
            body: JSON.stringify({ city: city.name, i }),
          });
      }
    }

    function check(scenario: Scenario, target: string, res: SimResponse): boolean {
      if (res.status !== 200) {
        throw new Error(`${city.name} ${scenario} ${target}: status ${res.status}`);
      }
      const cache = res.headers.get("x-cache");
      if (target !== "edge") return false;
      return scenario === "warm" ? cache === "HIT" : scenario === "cold" ? cache === "MISS" : false;
    }

    // Warm-up, not measured: the page enters the edge's cache, then each user sends every kind
    // of request both ways once (JIT, the edge's pooled connections to the origin).
    for (let i = 0; i < 3; i++) {
      const res = await request("warm", -1, "edge");
      if (res.headers.get("x-cache") === "HIT") break;
    }
    await Promise.all(Array.from({ length: o.concurrency }, async (_, u) => {
      for (const { id } of SCENARIOS) {
        for (const target of ["direct", "edge"] as const) {
          await request(id, -1 - u, target).catch(() => {});
        }
      }
    }));

    for (const { id } of SCENARIOS) {
      const cell: Cell = { direct: [], edge: [], outcomes: 0, errors: 0 };
      let next = 0;
      const worker = async () => {
        while (next < o.requests) {
          const i = next++;
          const order = i % 2 === 0 ? ["direct", "edge"] as const : ["edge", "direct"] as const;
          for (const target of order) {
            try {
              const res = await request(id, i, target);
              if (check(id, target, res)) cell.outcomes++;
              cell[target].push(res.ms);
            } catch (error) {
              cell.errors++;
              if (errors.length < 20) errors.push((error as Error).message);
            }
            progress.tick(1, `${city.name} ${id}`);
          }
          // Users pause between requests; back-to-back requests would measure a saturated CPU.
          await new Promise((r) => setTimeout(r, o.thinkMs * (0.5 + Math.random())));
        }
      };
      await Promise.all(Array.from({ length: o.concurrency }, worker));
      const direct = summarize(cell.direct);
      const viaEdge = summarize(cell.edge);
      const toEdge = clientRttMs(city, edge.site, o.rtt);
      const edgeToOrigin = nodeRttMs(edge.site, ORIGIN_SITE, o.rtt);
      const r = (x: number) => Math.round(x * 10) / 10;
      rows.push({
        city: city.name,
        edge: edge.region,
        scenario: id,
        direct,
        viaEdge,
        model: {
          directMs: r(handshakes * clientRttMs(city, ORIGIN_SITE, o.rtt)),
          edgeMs: r(handshakes * toEdge + (id === "warm" ? 0 : edgeToOrigin)),
        },
        ratio: Math.round((viaEdge.p50 / direct.p50) * 1000) / 1000,
        edgeNotSlower: viaEdge.p50 <= direct.p50,
        verdict: verdict(viaEdge.p50, direct.p50),
        ...(id === "warm" || id === "cold" ? { expectedCacheOutcomes: cell.outcomes } : {}),
        errors: cell.errors,
      });
    }
    client.close();
  }

  await Promise.all(o.cities.map(runCity));
  progress.done(`${rows.length} rows`);
  const cityOrder = o.cities.map((c) => c.name);
  const scenarioOrder = SCENARIOS.map((s) => s.id);
  rows.sort((a, b) =>
    scenarioOrder.indexOf(a.scenario) - scenarioOrder.indexOf(b.scenario) ||
    cityOrder.indexOf(a.city) - cityOrder.indexOf(b.city)
  );
  return {
    connection: o.keepAlive ? "keep-alive" : "fresh",
    requestsPerCell: o.requests,
    concurrency: o.concurrency,
    thinkMs: o.thinkMs,
    rows,
    errors,
  };
}

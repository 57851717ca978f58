/**
 * The simulated planet: the demo origin (us-east), one central collector, the edge nodes (each
 * `main.ts` in its own process with its own KV file in a temp dir), and a delaying TCP link for
 * every pair that talks — each city to each edge and to the origin, each edge to the origin, to
 * every other edge (CRDT sync) and to the collector. The simulator itself reaches every process
 * directly (no delay) to read state: that is its control plane, not a user.
 */

import { freePort, onInterrupt, type Server, startDeno } from "../../bench/lib/process.ts";
import {
  CENTRAL_SITE,
  CITIES,
  type City,
  clientRttMs,
  nodeRttMs,
  ORIGIN_SITE,
  type RttOptions,
  type Site,
} from "./latency.ts";
import { EdgeRouter, type Routing } from "./routing.ts";
import { type DelayLink, startDelayLink } from "./wan.ts";

/** Shared secrets of the simulated deployment (never real ones). */
export const SECRETS = {
  jwt: "outpost-sim-jwt-secret-0123456789abcdef",
  sync: "outpost-sim-sync-token-0123456789",
  central: "outpost-sim-central-token-0123456789",
  admin: "outpost-sim-admin-token-0123456789",
} as const;

/** An edge region of the simulation. */
export interface EdgeSpec {
  region: string;
  city: string;
  lat: number;
  lon: number;
  site: Site;
}

/** Settings the nodes run with (recorded in the results). */
export interface NodeSettings {
  syncIntervalMs: number;
  syncTimeoutMs: number;
  syncMaxBackoffMs: number;
  analyticsFlushSeconds: number;
}

/** Options for {@linkcode startTopology}. */
export interface TopologyOptions {
  edges: readonly EdgeSpec[];
  /** How users are sent to edges (default: the product's geo routing). */
  routing?: Routing;
  rtt: RttOptions;
  settings: NodeSettings;
  /** Where node logs go (one file per process). */
  logDir: string;
  cities?: readonly City[];
}

/** One emulated link, for the results. */
export interface LinkInfo {
  from: string;
  to: string;
  rttMs: number;
}

/** A running edge node and its links. */
export interface EdgeNode extends EdgeSpec {
  /** Direct (control-plane) URL. */
  url: string;
  server: Server;
  /** Links from each city to this edge, by city name. */
  fromCity: Map<string, DelayLink>;
  toOrigin: DelayLink;
  toCentral: DelayLink;
  /** Links from this edge to each other edge, by region. */
  toPeer: Map<string, DelayLink>;
}

/** The running simulation. */
export interface Topology {
  dir: string;
  originUrl: string;
  centralUrl: string;
  edges: EdgeNode[];
  /** Links from each city to the origin, by city name. */
  originFromCity: Map<string, DelayLink>;
  links: LinkInfo[];
  /** Chooses each city's edge (and says what the other routing would choose). */
  router: EdgeRouter;
  /** The edge `city`'s users reach. */
  edgeFor(city: City): EdgeNode;
  /** Cuts every link between `region` and the other nodes (its users still reach it). */
  partition(region: string): { heal(): void };
  stop(): Promise<void>;
}

const ROOT = new URL("../../", import.meta.url).pathname;

function edgeConfig(spec: EdgeSpec, all: readonly EdgeSpec[], originUrl: string, s: NodeSettings) {
  const big = { limit: 1_000_000, windowS: 1 };
  return {
    region: spec.region,
    regions: all.map((e) => ({
      name: e.region,
      city: e.city,
      lat: e.lat,
      lon: e.lon,
      origin: originUrl,
    })),
    // Clients send their city's coordinates; the IP database would only cost start-up time.
    geo: { ipDatabase: false },
    authz: {
      // GET /api/* is the plain proxied call; writes are the authorized ones.
      protect: [
        { path: "/api/*", methods: ["POST", "PUT", "PATCH", "DELETE"] },
        { path: "/items/*", methods: ["POST", "PUT", "PATCH", "DELETE"] },
        { path: "/crdt/*", methods: ["POST", "PUT", "PATCH", "DELETE"] },
      ],
      // The simulation measures latency, not 429s.
      rateLimit: { classes: { standard: big, premium: big, anonymous: big } },
    },
    sync: { timeoutMs: s.syncTimeoutMs, maxBackoffMs: s.syncMaxBackoffMs },
  };
}

/**
 * Readiness only proves that something answers on a port: make sure each port is the process
 * meant to be there (another process could have taken a port between its choice and the bind).
 */
async function checkIdentities(origin: string, central: string, edges: EdgeNode[]): Promise<void> {
  const res = await fetch(`${origin}/__origin/stats`);
  await res.body?.cancel();
  if (res.headers.get("x-origin-name") !== "us-east") throw new Error(`Not the origin: ${origin}`);
  const c = await fetch(`${central}/_central/stats?intervals=0`, {
    headers: { authorization: `Bearer ${SECRETS.central}` },
  });
  await c.body?.cancel();
  if (c.status !== 200) throw new Error(`Not the central collector: ${central} (${c.status})`);
  for (const e of edges) {
    const h = await (await fetch(`${e.url}/_edge/health`)).json();
    if (h.region !== e.region) throw new Error(`Not the ${e.region} edge: ${e.url} (${h.region})`);
  }
}

/** Starts links and processes; on any failure stops what started and throws. */
export async function startTopology(o: TopologyOptions): Promise<Topology> {
  const cities = o.cities ?? CITIES;
  const router = new EdgeRouter(o.edges, o.routing ?? "geo", o.rtt);
  const dir = await Deno.makeTempDir({ prefix: "outpost-sim-" });
  await Deno.mkdir(o.logDir, { recursive: true });
  const links: Array<{ info: LinkInfo; link: DelayLink }> = [];
  const servers: Server[] = [];
  const removeDir = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  const unhook = onInterrupt(removeDir);

  // Links listen first (their ports stay bound), then the nodes' ports are chosen, so no node is
  // told a port a link took; links look their target's port up on each connection.
  const ports = new Map<string, number>();
  function link(from: string, to: string, rttMs: number, node: string): DelayLink {
    const l = startDelayLink({
      target: () => ({ hostname: "127.0.0.1", port: ports.get(node)! }),
      upMs: rttMs / 2,
      downMs: rttMs / 2,
    });
    links.push({ info: { from, to, rttMs }, link: l });
    return l;
  }

  async function stop(): Promise<void> {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await Promise.allSettled(links.map((l) => l.link.close()));
    await removeDir();
    unhook();
  }

  try {
    const originFromCity = new Map(cities.map((c) => [
      c.name,
      link(c.name, "origin", clientRttMs(c, ORIGIN_SITE, o.rtt), "origin"),
    ]));
    const linked = o.edges.map((e) => ({
      ...e,
      fromCity: new Map(cities.map((c) => [
        c.name,
        link(c.name, e.region, clientRttMs(c, e.site, o.rtt), e.region),
      ])),
      toOrigin: link(e.region, "origin", nodeRttMs(e.site, ORIGIN_SITE, o.rtt), "origin"),
      toCentral: link(e.region, "central", nodeRttMs(e.site, CENTRAL_SITE, o.rtt), "central"),
      toPeer: new Map(
        o.edges.filter((p) => p.region !== e.region).map((p) => [
          p.region,
          link(e.region, p.region, nodeRttMs(e.site, p.site, o.rtt), p.region),
        ]),
      ),
    }));
    for (const name of ["origin", "central", ...o.edges.map((e) => e.region)]) {
      ports.set(name, freePort());
    }
    const originPort = ports.get("origin")!;
    const centralPort = ports.get("central")!;
    const edges = linked.map((e) => ({ ...e, url: `http://127.0.0.1:${ports.get(e.region)}` }));

    const common = {
      OUTPOST_MODE: "development",
      LOG_LEVEL: "warn",
      JWT_SECRET: SECRETS.jwt,
      ADMIN_TOKEN: SECRETS.admin,
      CENTRAL_TOKEN: SECRETS.central,
    };
    const startOrigin = startDeno(
      ["run", "-A", "tools/demo_origin.ts", "--port", String(originPort), "--name", "us-east"],
      {
        cwd: ROOT,
        readyUrl: `http://127.0.0.1:${originPort}/__origin/stats`,
        log: `${o.logDir}/origin.log`,
      },
    );
    const centralConfig = `${dir}/central.config.json`;
    await Deno.writeTextFile(centralConfig, JSON.stringify({ geo: { ipDatabase: false } }));
    const startCentral = startDeno(["run", "-A", "main.ts"], {
      cwd: ROOT,
      env: {
        ...common,
        PORT: String(centralPort),
        KV_PATH: `${dir}/central.sqlite3`,
        OUTPOST_CONFIG: centralConfig,
        OUTPOST_ROLE: "central",
        EDGE_REGION: "us-east",
        ORIGIN_URL: `http://127.0.0.1:${originPort}`,
      },
      readyUrl: `http://127.0.0.1:${centralPort}/_edge/health`,
      log: `${o.logDir}/central.log`,
    });
    const startEdges = edges.map(async (e) => {
      const config = `${dir}/${e.region}.config.json`;
      const originUrl = `http://127.0.0.1:${e.toOrigin.port}`;
      await Deno.writeTextFile(
        config,
        JSON.stringify(edgeConfig(e, o.edges, originUrl, o.settings)),
      );
      return startDeno(["run", "-A", "main.ts"], {
        cwd: ROOT,
        env: {
          ...common,
          PORT: String(ports.get(e.region)),
          KV_PATH: `${dir}/${e.region}.sqlite3`,
          OUTPOST_CONFIG: config,
          OUTPOST_ROLE: "edge",
          EDGE_REGION: e.region,
          REPLICA_ID: e.region,
          SYNC_PEERS: [...e.toPeer.values()].map((l) => `http://127.0.0.1:${l.port}`).join(","),
          SYNC_TOKEN: SECRETS.sync,
          SYNC_INTERVAL_MS: String(o.settings.syncIntervalMs),
          ANALYTICS_CENTRAL_URL: `http://127.0.0.1:${e.toCentral.port}`,
          ANALYTICS_FLUSH_SECONDS: String(o.settings.analyticsFlushSeconds),
        },
        readyUrl: `${e.url}/_edge/health`,
        log: `${o.logDir}/${e.region}.log`,
        readyTimeoutMs: 60_000,
      });
    });
    const started = await Promise.allSettled([startOrigin, startCentral, ...startEdges]);
    for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const nodes: EdgeNode[] = edges.map((e, i) => ({ ...e, server: servers[2 + i] }));
    await checkIdentities(
      `http://127.0.0.1:${originPort}`,
      `http://127.0.0.1:${centralPort}`,
      nodes,
    );

    return {
      dir,
      originUrl: `http://127.0.0.1:${originPort}`,
      centralUrl: `http://127.0.0.1:${centralPort}`,
      edges: nodes,
      originFromCity,
      links: links.map((l) => l.info),
      router,
      edgeFor(city) {
        const region = router.edgeFor(city).region;
        return nodes.find((n) => n.region === region)!;
      },
      partition(region) {
        const cut = links.filter((l) =>
          l.info.from !== l.info.to && cities.every((c) => c.name !== l.info.from) &&
          (l.info.from === region || l.info.to === region)
        ).map((l) => l.link);
        for (const l of cut) l.cut();
        return { heal: () => cut.forEach((l) => l.heal()) };
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

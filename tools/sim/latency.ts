/**
 * The simulator's latency data: measured round-trip times between cloud regions, where the
 * simulated cities and nodes are, and the two stated assumptions that turn those into the RTT of
 * every emulated link. Each WAN link delays each direction by half its RTT.
 *
 * Sources (both reproduce measurements; neither is ours):
 * - `aws2017`: "Latency Between AWS Global Regions", average RTT in ms, rows FROM, columns TO, as
 *   reproduced in https://acomputerscientistlearnsaws.blogspot.com/2017/04/aws-regions.html
 *   (April 2017). Ten regions; no São Paulo row (its column in the other rows is used), no Mumbai,
 *   no London.
 * - `cloudping`: a CloudPing (https://www.cloudping.co) inter-region sample of 21 AWS regions, in
 *   ms, as embedded in libp2p/jvm-libp2p's network simulator,
 *   https://github.com/libp2p/jvm-libp2p/blob/267a4d46b6899512f4d3ad8377afe6f94cc21033/tools/simulator/src/main/kotlin/io/libp2p/simulate/delay/latency/aws/AwsLatencies.kt
 *   (undated). Used ONLY for pairs involving London (eu-west-2) or Mumbai (ap-south-1), which the
 *   2017 table lacks. On the 45 pairs both sources have, the median difference is 7% (N. Virginia–
 *   Tokyo 146 vs 145.3); the largest are Frankfurt–Singapore (157.5 vs 325.9) and Sydney–Singapore
 *   (93 vs 175.3), routes that improved after 2017. The simulator keeps the 2017 figure for every
 *   pair the 2017 table has.
 */

/** A place with measured RTTs (an AWS region's metro area). */
export type Site =
  | "N. Virginia"
  | "N. California"
  | "Oregon"
  | "Ireland"
  | "Frankfurt"
  | "Tokyo"
  | "Seoul"
  | "Singapore"
  | "Sydney"
  | "São Paulo"
  | "London"
  | "Mumbai";

/** Where a figure came from. */
export interface LatencySource {
  id: "aws2017" | "cloudping" | "assumption";
  title: string;
  url: string;
  note: string;
}

/** The sources, for the results file. */
export const SOURCES: readonly LatencySource[] = [
  {
    id: "aws2017",
    title:
      "Latency Between AWS Global Regions (average RTT, ms), reproduced in 'AWS Regions' (2017)",
    url: "https://acomputerscientistlearnsaws.blogspot.com/2017/04/aws-regions.html",
    note:
      "Every pair between N. Virginia, N. California, Oregon, Ireland, Frankfurt, Tokyo, Seoul, " +
      "Singapore, Sydney and São Paulo (São Paulo's row is absent: its column is used).",
  },
  {
    id: "cloudping",
    title: "CloudPing.co AWS inter-region sample (ms), as embedded in libp2p/jvm-libp2p",
    url: "https://github.com/libp2p/jvm-libp2p/blob/267a4d46b6899512f4d3ad8377afe6f94cc21033/" +
      "tools/simulator/src/main/kotlin/io/libp2p/simulate/delay/latency/aws/AwsLatencies.kt",
    note: "Only pairs with London (eu-west-2) or Mumbai (ap-south-1), rows FROM those regions.",
  },
  {
    id: "assumption",
    title: "Stated assumptions of the simulator",
    url: "",
    note:
      "Access network: every client link adds ACCESS_RTT_MS (a user's last mile to the metro; " +
      "published medians range from ~3 ms on fibre to ~20 ms on fixed broadband, more on mobile). " +
      "Two nodes in the same site: INTRA_SITE_RTT_MS (AWS inter-AZ pings measure 0.25-3.4 ms, " +
      "https://www.xkyle.com/Measuring-AWS-Region-and-AZ-Latency/).",
  },
];

/** The client's last-mile RTT added to every city→node link (an assumption, see SOURCES). */
export const ACCESS_RTT_MS = 10;
/** RTT between two nodes in the same site (an assumption, see SOURCES). */
export const INTRA_SITE_RTT_MS = 1;

const AWS2017_SITES: readonly Site[] = [
  "N. Virginia",
  "N. California",
  "Oregon",
  "Ireland",
  "Frankfurt",
  "Tokyo",
  "Seoul",
  "Singapore",
  "Sydney",
  "São Paulo",
];

/** The 2017 table, rows FROM and columns TO in AWS2017_SITES order (no São Paulo row). */
const AWS2017: Partial<Record<Site, readonly number[]>> = {
  "N. Virginia": [0, 72.74, 86.98, 80.55, 88.66, 145.3, 178.4, 216.7, 230, 119.5],
  "N. California": [71.63, 0, 19.46, 153.2, 166.6, 102.5, 131.5, 174, 157.5, 192.7],
  "Oregon": [88.68, 19.2, 0, 137, 159.5, 89.1, 118.3, 161.4, 162.2, 182.7],
  "Ireland": [80.52, 153.2, 137, 0, 19.56, 212.4, 242.4, 239, 309.6, 191.3],
  "Frankfurt": [88.62, 166.6, 159.5, 19.55, 0, 236.5, 266.2, 325.9, 323.5, 194.9],
  "Tokyo": [145.3, 102.5, 89.16, 212.4, 236.6, 0, 31.44, 73.79, 103.9, 256.8],
  "Seoul": [176.6, 132.6, 118.2, 242.4, 265.3, 31.32, 0, 71.87, 134, 286.3],
  "Singapore": [216.7, 173.9, 161.4, 238.1, 325.9, 73.81, 71.29, 0, 175.3, 328.1],
  "Sydney": [229.7, 157.8, 161.9, 309.6, 323.2, 103.9, 134, 175.4, 0, 322.5],
};

/** CloudPing rows for the two sites the 2017 table lacks (FROM London / Mumbai). */
const CLOUDPING: Partial<Record<Site, Partial<Record<Site, number>>>> = {
  "London": {
    "N. Virginia": 76,
    "N. California": 147,
    "Oregon": 128,
    "Ireland": 13,
    "Frankfurt": 17,
    "Tokyo": 210,
    "Seoul": 238,
    "Singapore": 171,
    "Sydney": 265,
    "São Paulo": 186,
    "Mumbai": 111,
  },
  "Mumbai": {
    "N. Virginia": 185,
    "N. California": 228,
    "Oregon": 218,
    "Ireland": 120,
    "Frankfurt": 110,
    "Tokyo": 126,
    "Seoul": 124,
    "Singapore": 54,
    "Sydney": 145,
    "São Paulo": 298,
    "London": 111,
  },
};

/** A measured RTT between two sites and where it came from. */
export interface SiteRtt {
  ms: number;
  source: "aws2017" | "cloudping" | "same-site";
}

function aws2017(from: Site, to: Site): number | undefined {
  const j = AWS2017_SITES.indexOf(to);
  const row = AWS2017[from];
  return row && j >= 0 ? row[j] : undefined;
}

/**
 * The RTT between two sites: the 2017 table's FROM→TO figure (or TO→FROM when the FROM row is
 * missing), else CloudPing's; zero within a site. Throws for an unknown pair.
 */
export function siteRtt(from: Site, to: Site): SiteRtt {
  if (from === to) return { ms: 0, source: "same-site" };
  const a = aws2017(from, to) ?? aws2017(to, from);
  if (a !== undefined) return { ms: a, source: "aws2017" };
  const c = CLOUDPING[from]?.[to] ?? CLOUDPING[to]?.[from];
  if (c !== undefined) return { ms: c, source: "cloudping" };
  throw new RangeError(`No RTT between ${from} and ${to}`);
}

/** A simulated user location and the measured site it is mapped to. */
export interface City {
  name: string;
  lat: number;
  lon: number;
  site: Site;
  /** Set when the site is another place than the city itself. */
  approximation?: string;
}

/** The nine cities users are simulated in. */
export const CITIES: readonly City[] = [
  { name: "Tokyo", lat: 35.6762, lon: 139.6503, site: "Tokyo" },
  { name: "Singapore", lat: 1.3521, lon: 103.8198, site: "Singapore" },
  { name: "Sydney", lat: -33.8688, lon: 151.2093, site: "Sydney" },
  { name: "Mumbai", lat: 19.076, lon: 72.8777, site: "Mumbai" },
  { name: "London", lat: 51.5074, lon: -0.1278, site: "London" },
  { name: "Frankfurt", lat: 50.1109, lon: 8.6821, site: "Frankfurt" },
  { name: "São Paulo", lat: -23.5505, lon: -46.6333, site: "São Paulo" },
  {
    name: "New York",
    lat: 40.7128,
    lon: -74.006,
    site: "N. Virginia",
    approximation: "New York ≈ N. Virginia (us-east-1, ~330 km away): no New York figure in " +
      "either source",
  },
  {
    name: "San Francisco",
    lat: 37.7749,
    lon: -122.4194,
    site: "N. California",
    approximation: "San Francisco ≈ N. California (us-west-1, the Bay Area)",
  },
];

/** Where each default region's node runs (Outpost's region names, the sites measured). */
export const REGION_SITES: Readonly<Record<string, Site>> = {
  "us-west": "N. California",
  "us-east": "N. Virginia",
  "eu-west": "London",
  "ap-southeast": "Singapore",
};

/** The origin and the central collector both run in us-east. */
export const ORIGIN_SITE: Site = "N. Virginia";
/** The central collector runs beside the origin. */
export const CENTRAL_SITE: Site = "N. Virginia";

/** Finds a city by name (case-insensitive); undefined when unknown. */
export function findCity(name: string): City | undefined {
  const wanted = name.trim().toLowerCase();
  return CITIES.find((c) => c.name.toLowerCase() === wanted);
}

/** Options of the link RTT functions: the quick mode scales every figure down. */
export interface RttOptions {
  /** Multiplies every RTT (1 = the published figures). */
  scale?: number;
  accessMs?: number;
}

/** RTT of a client link: the city's access network plus the site-to-site figure. */
export function clientRttMs(city: City, node: Site, options: RttOptions = {}): number {
  const scale = options.scale ?? 1;
  return ((options.accessMs ?? ACCESS_RTT_MS) + siteRtt(city.site, node).ms) * scale;
}

/** RTT of a link between two nodes (the intra-site figure when they share a site). */
export function nodeRttMs(a: Site, b: Site, options: RttOptions = {}): number {
  const scale = options.scale ?? 1;
  return (a === b ? INTRA_SITE_RTT_MS : siteRtt(a, b).ms) * scale;
}

/**
 * The node a latency-routed client reaches: the lowest RTT among `nodes` (ties to the first).
 * Outpost's own geo routing picks origins by great-circle distance; users reach edges by DNS or
 * anycast, which follow measured latency, so the simulator uses RTT here.
 */
export function nearestByRtt<T extends { site: Site }>(city: City, nodes: readonly T[]): T {
  let best = nodes[0];
  for (const n of nodes) {
    if (siteRtt(city.site, n.site).ms < siteRtt(city.site, best.site).ms) best = n;
  }
  return best;
}

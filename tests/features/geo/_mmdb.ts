/**
 * A small MaxMind DB writer for test fixtures: ranges of addresses, each with a country code,
 * written as an IPv6 database (IPv4 at `::/96`, as ip-location-db's files are) with 24-bit
 * records and `{ country_code }` data records. Nested ranges are allowed: the narrower one wins
 * where they overlap, as in the real data's geofeed rows.
 */

/** A range of addresses, inclusive, as 128-bit numbers (IPv4 as `::a.b.c.d`). */
export interface MmdbRange {
  start: bigint;
  end: bigint;
  country: string;
}

type Leaf = { country: string };
type Node = { children: [Node | Leaf | null, Node | Leaf | null] };

const isNode = (x: Node | Leaf | null): x is Node => x !== null && "children" in x;

/** The aligned blocks (`[network, prefix length]`) that cover `[start, end]` exactly. */
function cidrs(start: bigint, end: bigint): Array<[bigint, number]> {
  const out: Array<[bigint, number]> = [];
  while (start <= end) {
    let size = 0;
    while (size < 128) {
      const block = 1n << BigInt(size + 1);
      if (start % block !== 0n || start + block - 1n > end) break;
      size++;
    }
    out.push([start, 128 - size]);
    start += 1n << BigInt(size);
  }
  return out;
}

function insert(root: Node, network: bigint, prefix: number, leaf: Leaf): void {
  let node = root;
  for (let depth = 0; depth < prefix; depth++) {
    const bit = Number((network >> BigInt(127 - depth)) & 1n);
    if (depth === prefix - 1) {
      node.children[bit] = leaf;
      return;
    }
    const child = node.children[bit];
    if (isNode(child)) {
      node = child;
    } else {
      // Below a wider range: its data moves down to both halves, one of which is split again.
      const next: Node = { children: [child, child] };
      node.children[bit] = next;
      node = next;
    }
  }
}

/** Control byte and payload of one data field. */
function field(type: number, payload: Uint8Array): number[] {
  if (payload.length >= 29) throw new RangeError("Field too long for this writer");
  if (type <= 7) return [(type << 5) | payload.length, ...payload];
  return [payload.length, type - 7, ...payload];
}

function str(text: string): number[] {
  return field(2, new TextEncoder().encode(text));
}

function uint(type: 5 | 6 | 9, value: number, bytes: number): number[] {
  const out = new Uint8Array(bytes);
  let v = BigInt(value);
  for (let i = bytes - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return field(type, out);
}

function map(entries: Array<[string, number[]]>): number[] {
  return [(7 << 5) | entries.length, ...entries.flatMap(([k, v]) => [...str(k), ...v])];
}

/** The `.mmdb` bytes for `ranges`. */
export function writeMmdb(ranges: readonly MmdbRange[]): Uint8Array {
  const root: Node = { children: [null, null] };
  const blocks = ranges.flatMap((r) =>
    cidrs(r.start, r.end).map(([network, prefix]) => ({
      network,
      prefix,
      width: r.end - r.start,
      leaf: { country: r.country },
    }))
  );
  // Wider blocks first; of equal blocks, the one of the wider range first (the narrower wins).
  blocks.sort((a, b) =>
    a.prefix - b.prefix || (a.width > b.width ? -1 : a.width < b.width ? 1 : 0)
  );
  for (const b of blocks) insert(root, b.network, b.prefix, b.leaf);

  const nodes: Node[] = [root];
  for (let i = 0; i < nodes.length; i++) {
    for (const child of nodes[i].children) if (isNode(child)) nodes.push(child);
  }
  const numbers = new Map(nodes.map((n, i) => [n, i]));
  const data: number[] = [];
  const offsets = new Map<string, number>();
  const record = (child: Node | Leaf | null): number => {
    if (child === null) return nodes.length;
    if (isNode(child)) return numbers.get(child)!;
    let offset = offsets.get(child.country);
    if (offset === undefined) {
      offset = data.length;
      offsets.set(child.country, offset);
      data.push(...map([["country_code", str(child.country)]]));
    }
    return nodes.length + 16 + offset;
  };
  const tree = new Uint8Array(nodes.length * 6);
  nodes.forEach((node, i) => {
    const [left, right] = node.children.map(record);
    tree.set([left >>> 16, (left >>> 8) & 255, left & 255], i * 6);
    tree.set([right >>> 16, (right >>> 8) & 255, right & 255], i * 6 + 3);
  });
  const metadata = map([
    ["binary_format_major_version", uint(5, 2, 2)],
    ["binary_format_minor_version", uint(5, 0, 2)],
    ["build_epoch", uint(9, 1_750_000_000, 8)],
    ["database_type", str("test-country")],
    ["description", map([])],
    ["ip_version", uint(5, 6, 2)],
    ["languages", [0, 11 - 7]],
    ["node_count", uint(6, nodes.length, 4)],
    ["record_size", uint(5, 24, 2)],
  ]);
  const marker = [0xab, 0xcd, 0xef, ...new TextEncoder().encode("MaxMind.com")];
  return new Uint8Array([...tree, ...new Uint8Array(16), ...data, ...marker, ...metadata]);
}

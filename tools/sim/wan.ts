/**
 * WAN emulation without `tc netem`: a TCP forwarder that delays each direction of a connection
 * by a fixed one-way latency. Bytes keep their order; a slow reader on one side slows the
 * writer on the other (the in-flight queue is bounded), as a real link would.
 */

/** One emulated link: clients connect to `port`, bytes reach `target` `upMs` later. */
export interface DelayLink {
  /** The local port clients connect to. */
  port: number;
  /** Bytes currently held in flight across all connections (for tests and stats). */
  inFlightBytes(): number;
  /** Largest number of bytes ever held in flight by one direction of one connection. */
  peakQueueBytes(): number;
  close(): Promise<void>;
}

/** Options for {@linkcode startDelayLink}. */
export interface DelayLinkOptions {
  target: { hostname: string; port: number };
  /** One-way delay client → target, ms. */
  upMs: number;
  /** One-way delay target → client, ms. */
  downMs: number;
  /** Bytes one direction may hold in flight before the reader waits (default 1 MiB). */
  maxQueueBytes?: number;
  hostname?: string;
}

interface Pending {
  due: number;
  chunk: Uint8Array;
}

/** Shared counters of a link's pumps. */
interface LinkStats {
  inFlight: number;
  peak: number;
}

/**
 * Copies `from` to `to`, delivering each chunk `delayMs` after it was read. Resolves when `from`
 * ends (then half-closes `to`) or either side fails.
 */
async function delayedPump(
  from: Deno.Conn,
  to: Deno.Conn,
  delayMs: number,
  maxQueueBytes: number,
  stats: LinkStats,
): Promise<void> {
  const queue: Pending[] = [];
  let queued = 0;
  let ended = false;
  let failed = false;
  const wake: { writer: (() => void) | null; reader: (() => void) | null } = {
    writer: null,
    reader: null,
  };

  const writer = (async () => {
    while (true) {
      if (queue.length === 0) {
        if (ended || failed) break;
        await new Promise<void>((r) => (wake.writer = r));
        continue;
      }
      const head = queue[0];
      const wait = head.due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      queue.shift();
      try {
        let offset = 0;
        while (offset < head.chunk.length) offset += await to.write(head.chunk.subarray(offset));
      } catch {
        failed = true;
      }
      queued -= head.chunk.length;
      stats.inFlight -= head.chunk.length;
      wake.reader?.();
      wake.reader = null;
      if (failed) break;
    }
    if (!failed) {
      try {
        await to.closeWrite();
      } catch {
        // the other side is already gone
      }
    }
  })();

  const buffer = new Uint8Array(64 * 1024);
  try {
    while (!failed) {
      while (queued >= maxQueueBytes && !failed) {
        await new Promise<void>((r) => (wake.reader = r));
      }
      const n = await from.read(buffer);
      if (n === null) break;
      const chunk = buffer.slice(0, n);
      queue.push({ due: performance.now() + delayMs, chunk });
      queued += n;
      stats.inFlight += n;
      if (queued > stats.peak) stats.peak = queued;
      wake.writer?.();
      wake.writer = null;
    }
  } catch {
    failed = true;
  }
  ended = true;
  wake.writer?.();
  await writer;
  stats.inFlight -= queued;
}

/** Starts a delaying TCP forwarder on a free loopback port. */
export function startDelayLink(options: DelayLinkOptions): DelayLink {
  if (!(options.upMs >= 0 && options.downMs >= 0)) {
    throw new RangeError(`Invalid delays: ${options.upMs}/${options.downMs}`);
  }
  const max = options.maxQueueBytes ?? 1024 * 1024;
  const listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: 0 });
  const stats: LinkStats = { inFlight: 0, peak: 0 };
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();

  async function handle(client: Deno.Conn): Promise<void> {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ ...options.target, transport: "tcp" });
    } catch {
      client.close();
      return;
    }
    conns.add(client);
    conns.add(server);
    try {
      (client as Deno.TcpConn).setNoDelay(true);
      (server as Deno.TcpConn).setNoDelay(true);
    } catch {
      // not a TCP socket
    }
    await Promise.all([
      delayedPump(client, server, options.upMs, max, stats),
      delayedPump(server, client, options.downMs, max, stats),
    ]);
    for (const c of [client, server]) {
      conns.delete(c);
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const task = handle(conn).finally(() => tasks.delete(task));
        tasks.add(task);
      }
    } catch {
      // listener closed
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    inFlightBytes: () => stats.inFlight,
    peakQueueBytes: () => stats.peak,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await accepting;
      await Promise.allSettled([...tasks]);
    },
  };
}

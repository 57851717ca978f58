/**
 * WAN emulation without `tc netem`: a TCP forwarder that delays each direction of a connection
 * by a fixed one-way latency. Bytes keep their order; a slow reader on one side slows the
 * writer on the other (the in-flight queue is bounded), as a real link would. A link can be cut
 * (a partition: bytes and new connections are held, as dropped packets are retransmitted) and
 * healed, and it counts the bytes it delivered each way.
 */

/** One emulated link: clients connect to `port`, bytes reach `target` `upMs` later. */
export interface DelayLink {
  /** The local port clients connect to. */
  port: number;
  /** Bytes currently held in flight across all connections (for tests and stats). */
  inFlightBytes(): number;
  /** Largest number of bytes ever held in flight by one direction of one connection. */
  peakQueueBytes(): number;
  /** Bytes delivered so far: client → target (`up`) and target → client (`down`). */
  bytes(): { up: number; down: number };
  /**
   * Partitions the link: nothing crosses in either direction and new connections are not
   * forwarded until {@linkcode DelayLink.heal}; what was held is then delivered (each chunk one
   * one-way delay after the heal at the earliest), as TCP retransmits after a partition ends.
   * Clients see requests hang, so their own timeouts decide what fails.
   */
  cut(): void;
  /** Ends a partition. */
  heal(): void;
  /** True while cut. */
  isCut(): boolean;
  close(): Promise<void>;
}

/** Options for {@linkcode startDelayLink}. */
export interface DelayLinkOptions {
  /** Where connections go; a function is asked on each connection (for targets started later). */
  target: { hostname: string; port: number } | (() => { hostname: string; port: number });
  /** One-way delay client → target, ms. */
  upMs: number;
  /** One-way delay target → client, ms. */
  downMs: number;
  /** Bytes one direction may hold in flight before the reader waits (default 1 MiB). */
  maxQueueBytes?: number;
  /**
   * Emulate TCP's handshake (default true): the local forwarder accepts a connection at once, so
   * without this a new connection would cost no round trip. With it, a client's first bytes
   * leave only after one round trip (SYN, SYN-ACK), as on a real link.
   */
  handshake?: boolean;
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
  up: number;
  down: number;
}

/** Open or closed; waiters resume when it opens. */
class Gate {
  #closed = false;
  #waiters: Array<() => void> = [];

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
  }

  open(): void {
    this.#closed = false;
    for (const w of this.#waiters.splice(0)) w();
  }

  wait(): Promise<void> {
    return this.#closed ? new Promise((r) => this.#waiters.push(r)) : Promise.resolve();
  }
}

/** What one direction of one connection shares with its link. */
interface PumpContext {
  delayMs: number;
  maxQueueBytes: number;
  stats: LinkStats;
  direction: "up" | "down";
  gate: Gate;
  /** No chunk leaves before this time (performance.now()): the handshake's round trip. */
  notBefore: number;
}

/**
 * Copies `from` to `to`, delivering each chunk `delayMs` after it was read. Resolves when `from`
 * ends (then half-closes `to`) or either side fails.
 */
async function delayedPump(from: Deno.Conn, to: Deno.Conn, ctx: PumpContext): Promise<void> {
  const { delayMs, maxQueueBytes, stats, gate } = ctx;
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
      let wait = head.due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      while (gate.closed) {
        await gate.wait();
        // Held during a partition: it crosses the link once it is back.
        wait = delayMs;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      queue.shift();
      try {
        let offset = 0;
        while (offset < head.chunk.length) offset += await to.write(head.chunk.subarray(offset));
      } catch {
        failed = true;
      }
      queued -= head.chunk.length;
      stats.inFlight -= head.chunk.length;
      if (!failed) stats[ctx.direction] += head.chunk.length;
      wake.reader?.();
      wake.reader = null;
      if (failed) break;
    }
    while (gate.closed && !failed) await gate.wait();
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
      queue.push({ due: Math.max(performance.now(), ctx.notBefore) + delayMs, chunk });
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
  const stats: LinkStats = { inFlight: 0, peak: 0, up: 0, down: 0 };
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const gate = new Gate();
  let closing = false;

  async function handle(client: Deno.Conn): Promise<void> {
    const acceptedAt = performance.now();
    conns.add(client);
    // A connection attempt during a partition waits for the heal (its SYN would be retried).
    while (gate.closed && !closing) await gate.wait();
    if (closing) {
      conns.delete(client);
      try {
        client.close();
      } catch {
        // closed by close()
      }
      return;
    }
    let server: Deno.Conn;
    try {
      const target = typeof options.target === "function" ? options.target() : options.target;
      server = await Deno.connect({ ...target, transport: "tcp" });
    } catch {
      conns.delete(client);
      try {
        client.close();
      } catch {
        // closed by close()
      }
      return;
    }
    if (closing) {
      for (const c of [client, server]) {
        try {
          c.close();
        } catch {
          // closed by close()
        }
      }
      conns.delete(client);
      return;
    }
    conns.add(server);
    try {
      (client as Deno.TcpConn).setNoDelay(true);
      (server as Deno.TcpConn).setNoDelay(true);
    } catch {
      // not a TCP socket
    }
    const common = { maxQueueBytes: max, stats, gate };
    const handshakeMs = options.handshake === false ? 0 : options.upMs + options.downMs;
    await Promise.all([
      delayedPump(client, server, {
        ...common,
        delayMs: options.upMs,
        direction: "up",
        notBefore: acceptedAt + handshakeMs,
      }),
      delayedPump(server, client, {
        ...common,
        delayMs: options.downMs,
        direction: "down",
        notBefore: 0,
      }),
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
    bytes: () => ({ up: stats.up, down: stats.down }),
    cut: () => gate.close(),
    heal: () => gate.open(),
    isCut: () => gate.closed,
    async close() {
      closing = true;
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      gate.open();
      await accepting;
      await Promise.allSettled([...tasks]);
    },
  };
}

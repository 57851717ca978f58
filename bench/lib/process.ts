/** Starting and stopping servers for benchmarks: free ports, readiness, no orphans. */

const handedOut = new Set<number>();

/**
 * A free TCP port on loopback (bound, read, released), never one this process handed out before:
 * the kernel may offer a just-released port again, and two servers told the same port collide.
 */
export function freePort(): number {
  for (let i = 0; i < 100; i++) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("No free port found in 100 attempts");
}

/** A child process with a readiness URL. */
export interface Server {
  url: string;
  /** The process id (`taskset` execs the server, so it is the server's own). */
  pid?: number;
  stop(): Promise<void>;
}

/**
 * CPU time (user + system, ms) used so far by a process and its children that are still running
 * (Linux `/proc`); null elsewhere. Per-request CPU cost is a steadier figure than requests/s on a
 * machine shared with other work.
 */
export async function cpuTimeMs(pid: number): Promise<number | null> {
  try {
    let total = 0;
    const pids = [pid];
    try {
      const children = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`);
      pids.push(...children.trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      // no children file: the process alone
    }
    for (const p of pids) {
      const stat = await Deno.readTextFile(`/proc/${p}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += Number(fields[11]) + Number(fields[12]); // utime, stime (clock ticks)
    }
    return total * 10; // CLK_TCK is 100 on Linux
  } catch {
    return null;
  }
}

const running = new Set<Deno.ChildProcess>();
const cleanups = new Set<() => void | Promise<void>>();
let hooked = false;
let interrupted = false;

function killAll(signal: Deno.Signal = "SIGTERM"): void {
  for (const child of running) {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * On SIGINT/SIGTERM: stop every child (SIGTERM, SIGKILL after 5 s), run the cleanups, exit 130.
 * A second signal exits at once (children still get SIGKILL).
 */
async function interrupt(): Promise<void> {
  if (interrupted) {
    killAll("SIGKILL");
    Deno.exit(130);
  }
  interrupted = true;
  killAll();
  const timer = setTimeout(() => killAll("SIGKILL"), 5000);
  await Promise.allSettled([...running].map((c) => c.status));
  clearTimeout(timer);
  for (const fn of cleanups) {
    try {
      await fn();
    } catch (error) {
      console.error(`cleanup failed: ${(error as Error).message}`);
    }
  }
  Deno.exit(130);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  globalThis.addEventListener("unload", () => killAll());
  // A crash of this process must not leave its servers running. Once interrupted, the work in
  // flight fails as its servers go away: that must not end the process before `interrupt` has
  // cleaned up and exited with 130.
  globalThis.addEventListener("error", (event) => {
    killAll();
    if (interrupted) event.preventDefault();
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    killAll();
    if (interrupted) event.preventDefault();
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, () => void interrupt());
    } catch {
      // not supported here
    }
  }
}

/**
 * Exits with `code`, unless the process was interrupted: then the interrupt handler's own exit
 * (130, after its cleanups) is the one that happens.
 */
export function exitUnlessInterrupted(code: number): void {
  if (!interrupted) Deno.exit(code);
}

/**
 * Registers `fn` to run when the process is interrupted, after every child has stopped (e.g. to
 * remove a temp dir). Returns a function that unregisters it.
 */
export function onInterrupt(fn: () => void | Promise<void>): () => void {
  hook();
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Polls `url` until it answers (any status) or `timeoutMs` passes. */
export async function waitForHttp(
  url: string,
  timeoutMs = 20_000,
  ready?: (res: Response) => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (ready === undefined) {
        await res.body?.cancel();
        return;
      }
      if (await ready(res)) return;
      last = `answered ${res.status}, not ready yet`;
      await new Promise((r) => setTimeout(r, 100));
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`Not ready after ${timeoutMs} ms: ${url}: ${last}`);
}

/** True when `taskset` can pin processes to CPUs (Linux util-linux). */
export async function hasTaskset(): Promise<boolean> {
  try {
    const out = await new Deno.Command("taskset", { args: ["-c", "0", "true"] }).output();
    return out.code === 0;
  } catch {
    return false;
  }
}

/**
 * Asks `child` to stop (SIGTERM), kills it if it is still running 5 s later, and resolves with
 * its exit status.
 */
export async function terminate(child: Deno.ChildProcess): Promise<Deno.CommandStatus> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }, 5000);
  try {
    return await child.status;
  } finally {
    clearTimeout(timer);
  }
}

/** Options for {@linkcode startDeno}. */
export interface StartOptions {
  env?: Record<string, string>;
  readyUrl: string;
  cwd?: string;
  quiet?: boolean;
  /** Pin the process to these CPUs with `taskset` (e.g. "1"), so load generator and server
   * do not steal each other's core. */
  cpus?: string;
  /** Append the child's stdout and stderr to this file (instead of `quiet`). */
  log?: string;
  /** How long to wait for `readyUrl` (default 20 s). */
  readyTimeoutMs?: number;
  /** Ready only when this holds for `readyUrl`'s answer (default: any answer). */
  ready?: (res: Response) => Promise<boolean>;
}

/**
 * For an edge started with `readyUrl` at `/_edge/health?verbose=1`: ready once the IP database
 * has loaded, so its parse (about a second of CPU) does not run inside a measurement.
 */
export async function edgeSettled(res: Response): Promise<boolean> {
  const body = await res.json().catch(() => null) as { ip_database?: string } | null;
  return body !== null && body.ip_database !== "loading";
}

async function pipeToFile(stream: ReadableStream<Uint8Array>, path: string): Promise<void> {
  const file = await Deno.open(path, { append: true, create: true });
  await stream.pipeTo(file.writable).catch(() => {});
}

/** Spawns `deno <args>` with `env`, waits for `readyUrl`, and returns a handle to stop it. */
export async function startDeno(args: string[], options: StartOptions): Promise<Server> {
  hook();
  const pinned = options.cpus !== undefined;
  const output = options.log ? "piped" : options.quiet === false ? "inherit" : "null";
  const child = new Deno.Command(pinned ? "taskset" : Deno.execPath(), {
    args: pinned ? ["-c", options.cpus!, Deno.execPath(), ...args] : args,
    env: options.env,
    cwd: options.cwd,
    stdout: output,
    stderr: output,
  }).spawn();
  running.add(child);
  const logging = options.log
    ? Promise.all([pipeToFile(child.stdout, options.log), pipeToFile(child.stderr, options.log)])
    : Promise.resolve();
  try {
    // A child that exits before it is ready fails at once, not after the timeout.
    const exited = child.status.then((s) => {
      throw new Error(`Exited with code ${s.code} before ${options.readyUrl} answered`);
    });
    exited.catch(() => {});
    await Promise.race([
      waitForHttp(options.readyUrl, options.readyTimeoutMs, options.ready),
      exited,
    ]);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await logging;
    running.delete(child);
    throw error;
  }
  return {
    url: new URL(options.readyUrl).origin,
    pid: child.pid,
    async stop() {
      await terminate(child);
      await logging;
      running.delete(child);
    },
  };
}

/** Starting and stopping servers for benchmarks: free ports, readiness, no orphans. */

/** A free TCP port on loopback (bound, read, released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A child process with a readiness URL. */
export interface Server {
  url: string;
  stop(): Promise<void>;
}

const running = new Set<Deno.ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of running) {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
  }
}

/** Polls `url` until it answers (any status) or `timeoutMs` passes. */
export async function waitForHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      return;
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

/** Options for {@linkcode startDeno}. */
export interface StartOptions {
  env?: Record<string, string>;
  readyUrl: string;
  cwd?: string;
  quiet?: boolean;
  /** Pin the process to these CPUs with `taskset` (e.g. "1"), so load generator and server
   * do not steal each other's core. */
  cpus?: string;
}

/** Spawns `deno <args>` with `env`, waits for `readyUrl`, and returns a handle to stop it. */
export async function startDeno(args: string[], options: StartOptions): Promise<Server> {
  if (!hooked) {
    hooked = true;
    globalThis.addEventListener("unload", killAll);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      try {
        Deno.addSignalListener(signal, () => {
          killAll();
          Deno.exit(130);
        });
      } catch {
        // not supported here
      }
    }
  }
  const pinned = options.cpus !== undefined;
  const child = new Deno.Command(pinned ? "taskset" : Deno.execPath(), {
    args: pinned ? ["-c", options.cpus!, Deno.execPath(), ...args] : args,
    env: options.env,
    cwd: options.cwd,
    stdout: options.quiet === false ? "inherit" : "null",
    stderr: options.quiet === false ? "inherit" : "null",
  }).spawn();
  running.add(child);
  try {
    await waitForHttp(options.readyUrl);
  } catch (error) {
    child.kill("SIGKILL");
    running.delete(child);
    throw error;
  }
  return {
    url: new URL(options.readyUrl).origin,
    async stop() {
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
      await child.status;
      clearTimeout(timer);
      running.delete(child);
    },
  };
}

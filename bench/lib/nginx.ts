/** Running Debian's nginx as a benchmark peer: a config from bench/nginx/, a temp dir, one worker. */

import { waitForHttp } from "./process.ts";

/** Where nginx is, or null when it is not installed. */
export async function findNginx(): Promise<string | null> {
  for (const path of ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // not here
    }
  }
  return null;
}

/** A running nginx. */
export interface NginxServer {
  url: string;
  /** The master's pid (its worker is its child). */
  pid: number;
  stop(): Promise<void>;
}

/** Options for {@linkcode startNginx}. */
export interface NginxOptions {
  binary: string;
  /** Config template under bench/nginx/ with @DIR@, @PORT@ and @ORIGIN@ placeholders. */
  template: string;
  port: number;
  origin: string;
  readyPath: string;
  cpus?: string;
}

/** Writes the config into a fresh temp dir and starts nginx in the foreground. */
export async function startNginx(o: NginxOptions): Promise<NginxServer> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-nginx-" });
  // Workers run as an unprivileged user when started by root: they must reach the temp dir.
  await Deno.chmod(dir, 0o755);
  await Deno.mkdir(`${dir}/cache`, { mode: 0o777 });
  await Deno.chmod(`${dir}/cache`, 0o777);
  const template = await Deno.readTextFile(new URL(`../nginx/${o.template}`, import.meta.url));
  const config = template.replaceAll("@DIR@", dir).replaceAll("@PORT@", String(o.port))
    .replaceAll("@ORIGIN@", o.origin);
  await Deno.writeTextFile(`${dir}/nginx.conf`, config);
  const args = ["-p", dir, "-c", `${dir}/nginx.conf`];
  const child = new Deno.Command(o.cpus ? "taskset" : o.binary, {
    args: o.cpus ? ["-c", o.cpus, o.binary, ...args] : args,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const url = `http://127.0.0.1:${o.port}`;
  try {
    await waitForHttp(`${url}${o.readyPath}`, 10_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`nginx did not start: ${await stderr}: ${(error as Error).message}`);
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await stderr;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

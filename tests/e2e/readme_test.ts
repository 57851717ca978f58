/**
 * Every shell block of README.md, in order, against a node started the README's way (on free
 * ports, with a fresh KV in a temp dir), in a fresh copy of the repository (some steps add files,
 * as a reader's would): each block must exit 0, print no 5xx problem, and match its `expect`
 * markers. Blocks marked `skip` are listed with their reason. Slow (a real
 * `deno task dev`, a restart, `deno task token` twice): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import { freePort } from "../../bench/lib/process.ts";
import { localCommand, readmeBlocks, type ShBlock } from "./_readme.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DENO = Deno.execPath();

/** A copy of the working tree's files (tracked and new, not ignored) in a temp dir. */
async function copyRepo(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-readme-repo-" });
  const list = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: ROOT,
  }).output();
  const paths = new TextDecoder().decode(list.stdout).split("\0").filter(Boolean);
  for (const path of paths) {
    const slash = path.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(`${dir}/${path.slice(0, slash)}`, { recursive: true });
    await Deno.copyFile(`${ROOT}${path}`, `${dir}/${path}`).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // deleted, not yet committed
    });
  }
  return dir;
}

/** The environment every command gets: no secrets or settings from the test's own. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "TMPDIR", "LANG"];
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of keep) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** A node started by a `server` block, in its own process group so all of it stops. */
interface Node {
  log: () => string;
  stop(): Promise<void>;
}

async function startNode(
  code: string,
  options: { cwd: string; env: Record<string, string>; port: number },
): Promise<Node> {
  const { cwd, env, port } = options;
  const child = new Deno.Command("setsid", {
    args: ["bash", "-c", code],
    cwd,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const drain = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeTo(
      new WritableStream({ write: (chunk) => void (output += decoder.decode(chunk)) }),
    ).catch(() => {});
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const node: Node = {
    log: () => output,
    async stop() {
      const group = -child.pid;
      const signal = (sig: Deno.Signal) => {
        try {
          Deno.kill(group, sig);
        } catch {
          // the whole group is gone
        }
      };
      signal("SIGTERM");
      await child.status;
      // The shell leading the group exits at once; the node shuts down gracefully after it.
      // Wait for every process of the group, so the next node finds its ports free.
      const deadline = Date.now() + 20_000;
      while (await groupAlive(child.pid)) {
        if (Date.now() > deadline) signal("SIGKILL");
        await new Promise((r) => setTimeout(r, 100));
      }
      await drained;
    },
  };
  const deadline = Date.now() + 90_000;
  while (true) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/_edge/health`);
      await res.body?.cancel();
      return node;
    } catch {
      if (Date.now() > deadline) {
        await node.stop();
        throw new Error(`The node did not answer within 90 s:\n${code}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Whether any process of process group `pgid` is still running (Linux `pgrep`). */
async function groupAlive(pgid: number): Promise<boolean> {
  const out = await new Deno.Command("pgrep", { args: ["-g", String(pgid)], stdout: "null" })
    .output();
  return out.code === 0;
}

/** A problem+json 5xx in a command's output: a status line or a problem body. */
const SERVER_ERROR = /^HTTP\/[\d.]+ 5\d\d|"status":\s*5\d\d\b/m;

async function runBlock(block: ShBlock, code: string, cwd: string): Promise<string> {
  const script = `set -eo pipefail\ntrap 'echo "FAILED: $BASH_COMMAND" >&2' ERR\n${code}\n`;
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    cwd,
    env: cleanEnv(),
    clearEnv: true,
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const where = `README.md:${block.line}`;
  assert.equal(out.code, 0, `${where} failed (exit ${out.code}):\n${code}\n${stdout}\n${stderr}`);
  assert.ok(!SERVER_ERROR.test(stdout), `${where} answered a 5xx:\n${code}\n${stdout}`);
  for (const expected of block.expect) {
    assert.match(stdout, expected, `${where} should print ${expected}:\n${stdout}`);
  }
  return stdout;
}

Deno.test({
  name: "every shell block of README.md works against a started node",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const blocks = readmeBlocks(await Deno.readTextFile(`${ROOT}README.md`));
    const skipped = blocks.filter((b) => b.skip);
    console.log(
      `README blocks: ${blocks.length}, run ${blocks.length - skipped.length}, skipped ` +
        `${skipped.length}:\n${
          skipped.map((b) => `  README.md:${b.line} (${b.skip}): ${b.code.split("\n")[0]}`)
            .join("\n")
        }`,
    );
    assert.ok(blocks.length - skipped.length >= 6, "most blocks run");

    const port = freePort();
    const dir = await Deno.makeTempDir({ prefix: "outpost-readme-" });
    const repo = await copyRepo();
    const serverEnv = cleanEnv({
      PORT: String(port),
      ORIGIN_PORT: String(freePort()),
      KV_PATH: `${dir}/kv/outpost.sqlite3`,
    });
    let node: Node | null = null;
    try {
      for (const block of blocks) {
        const code = localCommand(block.code, DENO, port);
        const name = `README.md:${block.line}: ${block.code.split("\n")[0].slice(0, 60)}`;
        if (block.skip) {
          await t.step({ name: `${name} (skipped: ${block.skip})`, ignore: true, fn() {} });
          continue;
        }
        await t.step(name, async () => {
          if (block.server) {
            // A restart keeps the node's KV, as it would on the reader's machine.
            await node?.stop();
            node = null;
            // The README runs it in the foreground of its own terminal; here, in the background.
            node = await startNode(code, { cwd: repo, env: serverEnv, port });
            return;
          }
          assert.ok(node !== null, `README.md:${block.line} runs before any node is started`);
          try {
            await runBlock(block, code, repo);
          } catch (error) {
            throw new Error(`${(error as Error).message}\n--- node output ---\n${node.log()}`);
          }
        });
      }
    } finally {
      await (node as Node | null)?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(repo, { recursive: true }).catch(() => {});
    }
  },
});

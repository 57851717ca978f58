import assert from "node:assert/strict";
import { freePort, waitForHttp } from "../../bench/lib/process.ts";
import { MAIN_PERMISSIONS, spawnMain } from "./_spawn.ts";

function spawnEdge(env: Record<string, string>): Deno.ChildProcess {
  return spawnMain({ LOG_LEVEL: "info", ...env });
}
async function collect(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

Deno.test("main.ts serves the edge and the demo origin, then shuts down cleanly on SIGTERM", async () => {
  const port = freePort();
  const originPort = freePort();
  const dir = await Deno.makeTempDir();
  const child = spawnEdge({
    PORT: String(port),
    ORIGIN_PORT: String(originPort),
    EDGE_REGION: "us-east",
    KV_PATH: `${dir}/kv/edge.sqlite3`,
    AUTHZ_ENABLED: "false", // authorization through main.ts: tests/e2e/authz_main_test.ts
  });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/_edge/health`);
    const res = await fetch(`http://127.0.0.1:${port}/api/echo`);
    const echo = await res.json();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-served-by"), "us-east");
    assert.equal(echo.origin, "demo");
    const direct = await fetch(`http://127.0.0.1:${originPort}/__origin/stats`);
    assert.deepEqual((await direct.json()).paths["/api/echo"], 1);
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  const out = await stdout;
  await stderr;
  assert.equal(status.code, 0, out);
  assert.match(out, /"msg":"edge listening"/);
  assert.match(out, /"msg":"stopped"/);
  const kvFile = await Deno.stat(`${dir}/kv/edge.sqlite3`);
  assert.ok(kvFile.isFile, "the KV file was created under a new directory");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("main.ts refuses to start with an invalid config and names the field", async () => {
  const child = spawnEdge({
    PORT: String(freePort()),
    EDGE_REGION: "moon-base",
    KV_PATH: ":memory:",
  });
  const [status, out, err] = await Promise.all([
    child.status,
    collect(child.stdout),
    collect(child.stderr),
  ]);
  assert.equal(status.code, 1, out);
  assert.match(err, /Invalid config: region \(from EDGE_REGION\): Unknown region: moon-base/);
});

Deno.test("main.ts says in one line that a port is busy, and exits 1", async (t) => {
  const busy = Deno.listen({ port: freePort() });
  const port = (busy.addr as Deno.NetAddr).port;
  try {
    for (
      const [name, env, variable] of [
        ["the edge's port", { PORT: String(port), ORIGIN_PORT: String(freePort()) }, "PORT"],
        [
          "the demo origin's port",
          { PORT: String(freePort()), ORIGIN_PORT: String(port) },
          "ORIGIN_PORT",
        ],
      ] as const
    ) {
      await t.step(name, async () => {
        const child = spawnEdge({ ...env, KV_PATH: ":memory:" });
        const [status, , err] = await Promise.all([
          child.status,
          collect(child.stdout),
          collect(child.stderr),
        ]);
        assert.equal(status.code, 1);
        // Warnings logged before it are JSON lines; the failure is the one plain line, no stack.
        const plain = err.trim().split("\n").filter((line) => !line.startsWith("{"));
        assert.deepEqual(plain, [
          `Cannot listen on port ${port}: another process is using it (stop it, or set ${variable} to another port)`,
        ]);
      });
    }
  } finally {
    busy.close();
  }
});

Deno.test("main.ts --check reports what start-up would refuse, without starting", async (t) => {
  async function check(env: Record<string, string>) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...MAIN_PERMISSIONS, "main.ts", "--check"],
      cwd: new URL("../../", import.meta.url).pathname,
      env: { KV_PATH: ":memory:", ...env },
    }).output();
    return { code: out.code, err: new TextDecoder().decode(out.stderr) };
  }
  await t.step("a good config: exit 0, nothing printed", async () => {
    const { code, err } = await check({
      PORT: String(freePort()),
      ORIGIN_PORT: String(freePort()),
    });
    assert.equal(code, 0, err);
    assert.equal(err, "");
  });
  await t.step("a bad config: the message, exit 1", async () => {
    const { code, err } = await check({ PORT: String(freePort()), EDGE_REGION: "moon-base" });
    assert.equal(code, 1);
    assert.match(err, /^Invalid config: region \(from EDGE_REGION\): Unknown region: moon-base/);
    assert.equal(err.trim().split("\n").length, 1, "one line");
  });
  await t.step("a busy port", async () => {
    using busy = Deno.listen({ port: freePort() });
    const port = (busy.addr as Deno.NetAddr).port;
    const { code, err } = await check({ PORT: String(port), ORIGIN_PORT: String(freePort()) });
    assert.equal(code, 1);
    assert.match(err, new RegExp(`^Cannot listen on port ${port}: another process is using it`));
  });
});

Deno.test("deno task dev exits 1 on a bad config instead of waiting under --watch", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "dev"],
    cwd: new URL("../../", import.meta.url).pathname,
    env: { PORT: String(freePort()), EDGE_REGION: "moon-base", KV_PATH: ":memory:", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A watcher that waits would never exit: stop it after a minute so the test fails, not hangs.
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [status, , err] = await Promise.all([
    child.status,
    collect(child.stdout),
    collect(child.stderr),
  ]);
  clearTimeout(guard);
  assert.equal(status.code, 1, err);
  assert.match(err, /Invalid config: region \(from EDGE_REGION\): Unknown region: moon-base/);
  assert.ok(!err.includes("Watcher"), "the watcher never started");
});

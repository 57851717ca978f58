import assert from "node:assert/strict";
import { freePort, waitForHttp } from "../../bench/lib/process.ts";
import { spawnMain } from "./_spawn.ts";

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

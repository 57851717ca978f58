import assert from "node:assert/strict";
import { freePort, waitForHttp } from "../../bench/lib/process.ts";
import { spawnMain } from "./_spawn.ts";
import { mintToken } from "../../tools/token.ts";

const SECRET = "e2e-secret-for-outpost-authz-0123456789";

function spawnEdge(env: Record<string, string>): Deno.ChildProcess {
  return spawnMain({ LOG_LEVEL: "warn", KV_PATH: ":memory:", ...env });
}
Deno.test("main.ts authorizes /api/* with a token from JWT_SECRET and the committed module", async () => {
  const port = freePort();
  const child = spawnEdge({
    PORT: String(port),
    ORIGIN_PORT: String(freePort()),
    JWT_SECRET: SECRET,
  });
  const out = new Response(child.stdout).text();
  const err = new Response(child.stderr).text();
  try {
    await waitForHttp(`http://127.0.0.1:${port}/_edge/health`);
    const denied = await fetch(`http://127.0.0.1:${port}/api/echo`);
    await denied.body?.cancel();
    assert.equal(denied.status, 401);
    const token = await mintToken({ sub: "alice", roles: ["viewer"] }, SECRET);
    const res = await fetch(`http://127.0.0.1:${port}/api/echo`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const echo = await res.json();
    assert.equal(res.status, 200);
    assert.equal(echo.headers["x-user-id"], "alice");
    assert.match(res.headers.get("ratelimit") ?? "", /^"standard";r=\d+;t=\d+$/);
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal((await child.status).code, 0);
  await out;
  assert.doesNotMatch(await err, new RegExp(SECRET), "the secret is never logged");
});

Deno.test("main.ts refuses to start with a bad policy file and names the field", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/policy.json`, '{"roles":{"viewer":{"allow":["read"]}}}');
  const child = spawnEdge({ PORT: String(freePort()), AUTHZ_POLICY: `${dir}/policy.json` });
  const [status, , err] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  assert.equal(status.code, 1);
  assert.match(
    err,
    /Invalid config: authz\.policyPath \(.*policy\.json\): roles\.viewer\.allow\.0: Not an action pattern/,
  );
  await Deno.remove(dir, { recursive: true });
});

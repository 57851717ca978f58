/**
 * `main.ts` booted the way Deno Deploy boots a fresh deployment. This is an EMULATION: the
 * platform itself cannot run here, so its documented conditions are reproduced
 * (docs/deploy.md cites each):
 *
 * - the predefined variables (`DENO_DEPLOY`, `DENO_DEPLOYMENT_ID`, `DENO_TIMELINE`, app and org
 *   ids) and nothing else: no `KV_PATH`, no `PORT`, no secrets (a build's warm-up runs with the
 *   Development context, where secrets are often not set);
 * - the listen address in `DENO_SERVE_ADDRESS` (`tcp:127.0.0.1:PORT`), which only the first
 *   `Deno.serve` takes;
 * - a fresh working directory (no `.data/`), every permission (`--allow-all`), deno.json's config;
 * - the assigned KV database as the runtime's no-argument `Deno.openKv()` resolves it
 *   (`DENO_KV_DEFAULT_PATH`), or no database with `DENO_KV_REQUIRES_DISTRIBUTED_DATABASE=error`;
 * - SIGINT to stop, then SIGKILL 5 s later.
 */

import assert from "node:assert/strict";
import { freePort, waitForHttp } from "../../bench/lib/process.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** The platform's kill: SIGKILL this long after SIGINT. */
const PLATFORM_KILL_MS = 5_000;

/** The variables Deno Deploy predefines (plus what Deno itself needs to find its cache). */
function platformEnv(port: number, extra: Record<string, string> = {}): Record<string, string> {
  const keep: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) keep[name] = value;
  }
  return {
    ...keep,
    NO_COLOR: "1",
    DENO_DEPLOY: "true",
    DENO_DEPLOYMENT_ID: "emulated-deployment-1",
    DENO_DEPLOY_BUILD_ID: "emulated-build-1",
    DENO_DEPLOY_APP_ID: "00000000-0000-4000-8000-000000000001",
    DENO_DEPLOY_APP_SLUG: "outpost-emulated",
    DENO_DEPLOY_ORG_ID: "00000000-0000-4000-8000-000000000002",
    DENO_DEPLOY_ORG_SLUG: "emulated-org",
    DENO_TIMELINE: "production",
    DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
    ...extra,
  };
}

interface Booted {
  base: string;
  cwd: string;
  child: Deno.ChildProcess;
  output: Promise<string>;
}

async function boot(extra: (cwd: string) => Record<string, string>): Promise<Booted> {
  const cwd = await Deno.makeTempDir({ prefix: "outpost-deploy-" });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN],
    cwd,
    env: platformEnv(port, extra(cwd)),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()])
    .then(([out, err]) => out + err);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/_edge/health`);
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`${(error as Error).message}\n${await output}`);
  }
  return { base, cwd, child, output };
}

/** SIGINT as the platform sends it; SIGKILL (and a failure) if still running 5 s later. */
async function stopLikeThePlatform(b: Booted): Promise<{ code: number; log: string }> {
  b.child.kill("SIGINT");
  let killed = false;
  const kill = setTimeout(() => {
    killed = true;
    b.child.kill("SIGKILL");
  }, PLATFORM_KILL_MS);
  const status = await b.child.status;
  clearTimeout(kill);
  const log = await b.output;
  assert.ok(!killed, `still running ${PLATFORM_KILL_MS} ms after SIGINT:\n${log}`);
  return { code: status.code, log };
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return await res.json() as Record<string, unknown>;
}

Deno.test("a fresh deploy (emulated) boots without secrets, fails closed, and stops within 5 s", async () => {
  const b = await boot((cwd) => ({ DENO_KV_DEFAULT_PATH: `${cwd}/platform-kv.sqlite3` }));
  try {
    // It answers, and health names what is missing and what it does not know.
    const healthRes = await fetch(`${b.base}/_edge/health`);
    assert.equal(healthRes.status, 200);
    assert.equal(healthRes.headers.get("deno-cdn-cache-control"), "private, no-store");
    const health = await json(healthRes);
    assert.equal(health.status, "degraded");
    assert.equal(health.region, "unknown");
    const reasons = health.reasons as string[];
    assert.ok(reasons.some((r) => r.startsWith("JWT_SECRET is not set")), String(reasons));
    assert.ok(reasons.some((r) => r.startsWith("ADMIN_TOKEN is not set")), String(reasons));
    assert.ok((health.notes as string[]).some((n) => /region unknown.*EDGE_REGION/.test(n)));

    // Public pages work (the demo origin runs in-process); the CDN may keep them, tagged.
    const page = await fetch(`${b.base}/cacheable/hello?max_age=60`);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    assert.equal(page.headers.get("x-served-by"), "unknown");
    assert.match(page.headers.get("deno-cache-tag") ?? "", /^outpost-path-[0-9a-f]{16}/);
    assert.equal(page.headers.get("deno-cdn-cache-control"), null);

    // Protected routes fail closed, and the platform's CDN is told never to keep the answer.
    const api = await fetch(`${b.base}/api/echo`);
    assert.equal(api.status, 503);
    assert.equal(api.headers.get("deno-cdn-cache-control"), "private, no-store");
    assert.equal((await json(api)).code, "authz_not_configured");
    const metrics = await fetch(`${b.base}/_edge/metrics`);
    assert.equal(metrics.status, 503);
    assert.equal((await json(metrics)).code, "admin_not_configured");

    // Nothing was written to the working directory but the emulated platform database.
    const entries = [];
    for await (const e of Deno.readDir(b.cwd)) entries.push(e.name);
    assert.ok(!entries.includes(".data"), `wrote ${entries}`);
  } catch (error) {
    b.child.kill("SIGKILL");
    await b.child.status;
    throw new Error(`${(error as Error).message}\n${await b.output}`);
  }
  const { code, log } = await stopLikeThePlatform(b);
  assert.equal(code, 0, log);
  const stopped = /"msg":"stopped".*"shutdown_ms":(\d+)/.exec(log);
  assert.ok(stopped, log);
  assert.ok(Number(stopped[1]) < PLATFORM_KILL_MS, `shutdown took ${stopped[1]} ms`);
  await Deno.remove(b.cwd, { recursive: true });
});

Deno.test("a deploy without a KV database (emulated) stays up and says so in health", async () => {
  const b = await boot(() => ({ DENO_KV_REQUIRES_DISTRIBUTED_DATABASE: "error" }));
  try {
    const healthRes = await fetch(`${b.base}/_edge/health`);
    assert.equal(healthRes.status, 503);
    const health = await json(healthRes);
    assert.equal(health.status, "unhealthy");
    assert.ok(
      (health.reasons as string[]).some((r) => /no KV database is assigned/.test(r)),
      String(health.reasons),
    );
    // Public pages still go to the origin; what needs KV answers 503 with a reason.
    const page = await fetch(`${b.base}/cacheable/hello?max_age=60`);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    const item = await fetch(`${b.base}/items/42`);
    assert.equal(item.status, 503);
    assert.equal((await json(item)).code, "kv_unavailable");
  } catch (error) {
    b.child.kill("SIGKILL");
    await b.child.status;
    throw new Error(`${(error as Error).message}\n${await b.output}`);
  }
  const { code, log } = await stopLikeThePlatform(b);
  assert.equal(code, 0, log);
  await Deno.remove(b.cwd, { recursive: true });
});

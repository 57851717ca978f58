import assert from "node:assert/strict";
import { loadConfig } from "../../../lib/core/config.ts";
import { get, startEdge } from "../../helpers.ts";

Deno.test("createApp() serves the demo origin in-process on Deno Deploy", async () => {
  const config = loadConfig({
    env: {
      DENO_DEPLOYMENT_ID: "x",
      KV_PATH: ":memory:",
      TRUSTED_PROXIES: "127.0.0.1",
      AUTHZ_ENABLED: "false",
    },
  });
  await using e = await startEdge(config);
  const { res, body } = await get(`${e.url}/api/echo?a=1`);
  assert.equal(res.status, 200);
  // Deno Deploy names no region: the node is `unknown`, and a client of unknown location goes to
  // the first configured region (DEFAULT_REGION would choose another).
  assert.equal(res.headers.get("x-served-by"), "unknown");
  assert.equal(res.headers.get("x-upstream-region"), "us-west");
  assert.deepEqual((body as { query: unknown }).query, { a: "1" });
  assert.equal(e.edge.demo?.stats()["/api/echo"], 1);
});

/**
 * The byte transforms (`node:zlib`) are not loaded at start-up. In this file's fresh module
 * graph, the first hit that needs one (a stored plain page for a gzip client) is answered
 * correctly: the fast path leaves it to the routed way, which waits for the load.
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { ManualClock } from "../../../lib/core/clock.ts";
import { rawFetch } from "../../../lib/features/proxy/raw_fetch.ts";
import { makeConfig, startEdge } from "../../helpers.ts";
import { plainOrigin } from "./_origins.ts";

Deno.test("the first compressed hit waits for the byte transforms to load", async () => {
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  await using origin = plainOrigin(clock);
  await using e = await startEdge(makeConfig(origin.url, { experiments: [] }), { clock });
  const client = rawFetch();
  const url = `${e.url}/page.html`;
  const page = origin.identity("/page.html");
  const plain = await client(url, { headers: { "accept-encoding": "identity" } });
  assert.equal(plain.headers.get("x-cache"), "MISS");
  assert.deepEqual(new Uint8Array(await plain.arrayBuffer()), page);
  for (const round of [1, 2]) {
    const res = await client(url, { headers: { "accept-encoding": "gzip" } });
    assert.equal(res.headers.get("x-cache"), "HIT", `round ${round}`);
    assert.equal(res.headers.get("content-encoding"), "gzip", `round ${round}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual(new Uint8Array(zlib.gunzipSync(bytes)), page, `round ${round}`);
  }
});

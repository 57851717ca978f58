/**
 * Three edge processes (`deno run main.ts`), each with its own KV file and port, peered through
 * SYNC_PEERS. They take increments and set adds concurrently, then must converge: every node's
 * counter equals the sum of all increments and every node holds the same set. Prints the time
 * convergence took after the last write.
 */

import assert from "node:assert/strict";
import { freePort, waitForHttp } from "../../bench/lib/process.ts";
import { spawnMain } from "./_spawn.ts";
import { mintToken } from "../../tools/token.ts";

const TOKEN = "e2e-sync-token-0123456789";
// CRDT writes are protected routes: the nodes share a JWT secret and the test writes as an editor.
const JWT_SECRET = "e2e-jwt-secret-0123456789-0123456789";
const bearer = await mintToken({ sub: "e2e-writer", roles: ["editor"] }, JWT_SECRET);
const REGIONS = ["us-east", "eu-west", "ap-southeast"];

function spawnNode(env: Record<string, string>): Deno.ChildProcess {
  return spawnMain(env);
}
async function json(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, init);
  const body = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  return json(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
    body: JSON.stringify(body),
  });
}

Deno.test("three edge processes converge counters and sets through anti-entropy", async () => {
  const dir = await Deno.makeTempDir({ prefix: "outpost-e2e-" });
  const ports = REGIONS.map(() => freePort());
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const children = REGIONS.map((region, i) =>
    spawnNode({
      PORT: String(ports[i]),
      EDGE_REGION: region,
      KV_PATH: `${dir}/${region}.sqlite3`,
      ORIGIN_URL: "http://127.0.0.1:9",
      SYNC_PEERS: urls.filter((_, j) => j !== i).join(","),
      SYNC_TOKEN: TOKEN,
      JWT_SECRET,
      SYNC_INTERVAL_MS: "200",
      LOG_LEVEL: "warn",
    })
  );
  const logs = children.map((c) => new Response(c.stderr).text());
  children.forEach((c) => c.stdout.cancel());
  try {
    await Promise.all(urls.map((u) => waitForHttp(`${u}/_edge/health`)));
    let total = 0;
    const expected = new Set<string>();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      const node = urls[i % 3];
      const by = (i % 5) + 1;
      total += by;
      writes.push(post(`${node}/crdt/counters/visits/increment`, { by }));
      const element = i % 4 === 0 ? `shared-${i % 8}` : `from-${i % 3}-${i}`;
      expected.add(element);
      writes.push(post(`${node}/crdt/sets/seen/add`, { element }));
    }
    await Promise.all(writes);
    const written = performance.now();
    const want = [...expected].sort();
    let converged = false;
    while (performance.now() - written < 15_000) {
      const states = await Promise.all(urls.map(async (u) => ({
        value: (await json(`${u}/crdt/counters/visits`)).value,
        elements: ((await json(`${u}/crdt/sets/seen`)).elements as string[]).slice().sort(),
      })));
      if (
        states.every((s) =>
          s.value === total && JSON.stringify(s.elements) === JSON.stringify(want)
        )
      ) {
        converged = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const ms = performance.now() - written;
    console.log(`three nodes converged ${converged ? "in" : "NOT within"} ${ms.toFixed(0)} ms`);
    assert.ok(converged, "the nodes did not converge within 15 s");
    const counter = await json(`${urls[0]}/crdt/counters/visits`);
    assert.equal(Object.keys(counter.replicas as object).length, 3);
  } finally {
    for (const c of children) c.kill("SIGTERM");
    const statuses = await Promise.all(children.map((c) => c.status));
    const errors = await Promise.all(logs);
    await Deno.remove(dir, { recursive: true });
    statuses.forEach((s, i) => assert.equal(s.code, 0, errors[i]));
    // Peers that start later are retried with a warning; nothing may fail outright.
    for (const e of errors) assert.doesNotMatch(e, /"level":"error"/, e);
  }
});

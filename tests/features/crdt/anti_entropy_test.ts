import assert from "node:assert/strict";
import { type Cluster, getJson, makeCluster, postJson, syncAll } from "../../_cluster.ts";

async function counter(c: Cluster, node: string, name: string): Promise<number> {
  return ((await getJson(c, node, `/crdt/counters/${name}`)) as { value: number }).value;
}

async function elements(c: Cluster, node: string, name: string): Promise<string[]> {
  return ((await getJson(c, node, `/crdt/sets/${name}`)) as { elements: string[] }).elements;
}

Deno.test("AntiEntropy.run() converges three nodes: counters sum, sets agree, registers pick the last", async (t) => {
  await using c = await makeCluster(["n1", "n2", "n3"]);
  await postJson(c, "n1", "/crdt/counters/hits/increment", { by: 5 });
  await postJson(c, "n2", "/crdt/counters/hits/increment", { by: 7 });
  await postJson(c, "n3", "/crdt/counters/hits/decrement", { by: 2 });
  await postJson(c, "n1", "/crdt/sets/s/add", { element: "a" });
  await postJson(c, "n2", "/crdt/sets/s/add", { element: "b" });
  await c.call("n3", "/crdt/registers/r", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ value: "first" }),
  });
  c.clock.advance(10);
  await c.call("n1", "/crdt/registers/r", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ value: "second" }),
  });
  await t.step("one round: every node has everything", async () => {
    await syncAll(c);
    for (const n of ["n1", "n2", "n3"]) {
      assert.equal(await counter(c, n, "hits"), 10, n);
      assert.deepEqual(await elements(c, n, "s"), ["a", "b"], n);
      assert.equal(
        ((await getJson(c, n, "/crdt/registers/r")) as { value: string }).value,
        "second",
      );
    }
  });
  await t.step("the first round was full state, later ones are deltas", async () => {
    const kinds = c.sent.map((s) => JSON.parse(s.body).kind);
    assert.ok(kinds.every((k) => k === "full"), kinds.join());
    c.sent.length = 0;
    await postJson(c, "n2", "/crdt/sets/s/remove", { element: "a" });
    await syncAll(c);
    for (const n of ["n1", "n2", "n3"]) assert.deepEqual(await elements(c, n, "s"), ["b"], n);
    // n2 sent its delta to both; n3 (synced after n2 in this round) relayed what it learned.
    // A node sends to its peers concurrently, so their order within one node's turn may vary.
    const sent = c.sent.map((s) => [s.from, s.to, JSON.parse(s.body).kind].join(" "));
    assert.deepEqual([...sent.slice(0, 2).sort(), ...sent.slice(2).sort()], [
      "n2 n1 delta",
      "n2 n3 delta",
      "n3 n1 delta",
      "n3 n2 delta",
    ]);
    await syncAll(c); // n1 relays too; nobody learns anything from it
  });
  await t.step("once relays settle, a round with nothing new sends nothing", async () => {
    c.sent.length = 0;
    // Idle rounds over several settle windows (the cursor is saved only once a minute).
    for (let i = 0; i < 12; i++) {
      c.clock.advance(8_000);
      await syncAll(c);
    }
    assert.equal(c.sent.length, 0);
  });
  await t.step("every node again gets full state after sync.fullEveryMs", async () => {
    c.clock.advance(300_000);
    await syncAll(c);
    assert.equal(c.sent.length, 6);
    assert.ok(c.sent.every((s) => JSON.parse(s.body).kind === "full"));
  });
});

Deno.test("AntiEntropy delta after 100 changes on a large set is small next to the full state", async () => {
  await using c = await makeCluster(["a", "b"], { sync: { maxBodyBytes: 8 * 1024 * 1024 } });
  const store = await c.node("a").edge.data.crdt();
  for (let i = 0; i < 2000; i++) await store.add("big", `element-${i}`);
  await c.node("a").edge.jobs.runNow("crdt-sync");
  const full = c.sent.reduce((n, s) => n + s.body.length, 0);
  c.sent.length = 0;
  for (let i = 0; i < 100; i++) {
    await (i % 2 ? store.remove("big", `element-${i}`) : store.add("big", `new-${i}`));
  }
  await c.node("a").edge.jobs.runNow("crdt-sync");
  const delta = c.sent.reduce((n, s) => n + s.body.length, 0);
  assert.ok(delta < full * 0.1, `delta ${delta} B vs full ${full} B`);
  assert.deepEqual(await elements(c, "b", "big"), await elements(c, "a", "big"));
});

Deno.test("AntiEntropy.run() with a dead peer backs off and never blocks serving", async (t) => {
  await using c = await makeCluster(["a", "b", "dead"], { sync: { timeoutMs: 60_000 } });
  c.faults.set("dead", "down");
  await postJson(c, "a", "/crdt/counters/x/increment", { by: 1 });
  await t.step("the live peer is synced; the dead one is counted and backed off", async () => {
    await c.node("a").edge.jobs.runNow("crdt-sync");
    assert.equal(await counter(c, "b", "x"), 1);
    const status = await c.node("a").edge.data.sync!.status();
    const dead = status.find((p) => p.url === "http://dead.test")!;
    assert.equal(dead.failures, 1);
    assert.ok(dead.nextAttemptAt! > c.clock.now());
    assert.match(dead.lastError!, /Connection refused/);
    const failures = c.node("a").edge.metrics.gauge("outpost_sync_peer_consecutive_failures", "");
    assert.equal(failures.get({ peer: "http://dead.test" }), 1);
  });
  await t.step("while backing off the dead peer is not tried", async () => {
    c.sent.length = 0;
    await c.node("a").edge.jobs.runNow("crdt-sync");
    const status = await c.node("a").edge.data.sync!.status();
    assert.equal(status.find((p) => p.url === "http://dead.test")!.failures, 1);
  });
  await t.step("a hanging peer: requests are served and the round returns without it", async () => {
    c.faults.set("dead", "hang");
    c.clock.advance(120_000);
    let roundDone = false;
    const round = c.node("a").edge.jobs.runNow("crdt-sync").then(() => (roundDone = true));
    const served = await c.call("a", "/crdt/counters/x");
    assert.equal(served.status, 200);
    await served.body?.cancel();
    assert.equal(roundDone, false, "served while the round was still waiting");
    await round;
    const peer = async () =>
      (await c.node("a").edge.data.sync!.status()).find((p) => p.url === "http://dead.test")!;
    assert.equal(c.hanging.length, 1, "the hanging request is still open");
    assert.equal((await peer()).failures, 1, "the round returned before the peer failed");
    c.hanging.shift()!();
    for (let i = 0; i < 200 && (await peer()).failures < 2; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal((await peer()).failures, 2);
  });
  await t.step("when the peer is back it gets everything", async () => {
    c.faults.delete("dead");
    c.clock.advance(600_000);
    await c.node("a").edge.jobs.runNow("crdt-sync");
    assert.equal(await counter(c, "dead", "x"), 1);
  });
});

Deno.test("AntiEntropy sends full state again to a peer whose database was replaced", async () => {
  await using c = await makeCluster(["a", "b"]);
  await postJson(c, "a", "/crdt/sets/s/add", { element: "kept" });
  await syncAll(c);
  assert.deepEqual(await elements(c, "b", "s"), ["kept"]);
  await c.reset("b");
  assert.deepEqual(await elements(c, "b", "s"), []);
  await postJson(c, "a", "/crdt/sets/s/add", { element: "new" });
  await c.node("a").edge.jobs.runNow("crdt-sync");
  assert.deepEqual(await elements(c, "b", "s"), ["kept", "new"]);
});

Deno.test("AntiEntropy skips a peer that is this node itself", async () => {
  await using c = await makeCluster(["a", "b"], {}, () => ["a", "b"]);
  await postJson(c, "a", "/crdt/counters/x/increment", { by: 3 });
  await c.node("a").edge.jobs.runNow("crdt-sync");
  const status = await c.node("a").edge.data.sync!.status();
  assert.equal(status.find((p) => p.url === "http://a.test")!.self, true);
  assert.equal(status.find((p) => p.url === "http://b.test")!.self, false);
  assert.equal(await counter(c, "b", "x"), 3);
});

Deno.test("AntiEntropy relays what it learns: a ring (a→b→c→a) converges with deltas", async () => {
  await using c = await makeCluster(
    ["a", "b", "c"],
    {},
    (n) => (n === "a" ? ["b"] : n === "b" ? ["c"] : ["a"]),
  );
  await syncAll(c); // first contact: full state
  c.sent.length = 0;
  await postJson(c, "a", "/crdt/sets/s/add", { element: "from-a" });
  await postJson(c, "c", "/crdt/counters/k/increment", { by: 2 });
  for (let i = 0; i < 3; i++) await syncAll(c);
  for (const n of ["a", "b", "c"]) {
    assert.deepEqual(await elements(c, n, "s"), ["from-a"], n);
    assert.equal(await counter(c, n, "k"), 2, n);
  }
  assert.ok(c.sent.every((s) => JSON.parse(s.body).kind === "delta"));
  // Relaying stops once everyone has it: another round sends nothing new.
  c.sent.length = 0;
  c.clock.advance(10_000);
  await syncAll(c);
  await syncAll(c);
  assert.equal(c.sent.length, 0);
});

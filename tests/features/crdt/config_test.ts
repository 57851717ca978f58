import assert from "node:assert/strict";
import { ConfigError } from "../../../lib/platform/config/errors.ts";
import { loadConfig } from "../../../lib/core/config.ts";

const TOKEN = "a-long-enough-secret";

Deno.test("loadConfig() gives the data, crdt and sync sections defaults", () => {
  const config = loadConfig({ env: {} });
  assert.equal(config.data.itemSchema, "json");
  assert.equal(config.data.maxStalenessMs, 2000);
  assert.equal(config.data.pollIntervalMs, 500);
  assert.equal(config.crdt.replicaId, undefined);
  assert.deepEqual(config.sync.peers, []);
  assert.equal(config.sync.token, undefined);
  assert.equal(config.sync.intervalMs, 1000);
});

Deno.test("loadConfig() reads the sync environment variables", () => {
  const config = loadConfig({
    env: {
      SYNC_PEERS: "http://10.0.0.2:8000/, https://eu.example.com ,",
      SYNC_TOKEN: TOKEN,
      SYNC_INTERVAL_MS: "250",
      REPLICA_ID: "eu-west-1",
      ITEMS_MAX_STALENESS_MS: "5000",
    },
  });
  assert.deepEqual(config.sync.peers, ["http://10.0.0.2:8000", "https://eu.example.com"]);
  assert.equal(config.sync.token, TOKEN);
  assert.equal(config.sync.intervalMs, 250);
  assert.equal(config.crdt.replicaId, "eu-west-1");
  assert.equal(config.data.maxStalenessMs, 5000);
});

Deno.test("loadConfig() refuses bad data and sync settings, naming the field", async (t) => {
  const cases: [string, Parameters<typeof loadConfig>[0], RegExp][] = [
    [
      "a short token",
      { env: { SYNC_TOKEN: "short" } },
      /sync\.token \(from SYNC_TOKEN\): Must be at least 16/,
    ],
    [
      "a token in the config module",
      { env: {}, module: { sync: { token: TOKEN } } },
      /sync\.token: Must come from the SYNC_TOKEN/,
    ],
    [
      "a peer that is not http",
      { env: { SYNC_PEERS: "ftp://x", SYNC_TOKEN: TOKEN } },
      /sync\.peers\.0 \(from SYNC_PEERS\): Peer must (be http or https|not carry)/,
    ],
    [
      "a peer with credentials",
      { env: { SYNC_PEERS: "http://u:p@x", SYNC_TOKEN: TOKEN } },
      /sync\.peers\.0/,
    ],
    [
      "a bad replica id",
      { env: { REPLICA_ID: "no spaces" } },
      /crdt\.replicaId \(from REPLICA_ID\)/,
    ],
    [
      "a poll interval over half the bound",
      { env: {}, module: { data: { pollIntervalMs: 1500 } } },
      /data\.pollIntervalMs: Must be at most half/,
    ],
    [
      "an unknown item schema",
      { env: {}, module: { data: { itemSchema: "xml" } } },
      /data\.itemSchema/,
    ],
    [
      "a non-numeric interval",
      { env: { SYNC_INTERVAL_MS: "soon" } },
      /SYNC_INTERVAL_MS \(sync\.intervalMs\): Not an integer/,
    ],
  ];
  for (const [name, options, pattern] of cases) {
    await t.step(name, () => {
      assert.throws(() => loadConfig(options), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, pattern);
        assert.ok(!e.message.includes(TOKEN), "the secret is never echoed");
        return true;
      });
    });
  }
});

import assert from "node:assert/strict";
import { localCommand, readmeBlocks } from "./_readme.ts";

Deno.test("readmeBlocks() reads sh blocks with their readme-test markers", async (t) => {
  await t.step("markers, other fences and blank lines", () => {
    const md = [
      "# T",
      "<!-- readme-test: server -->",
      "",
      "```sh",
      "deno task dev",
      "```",
      "```",
      "not shell",
      "```",
      '<!-- readme-test: expect: \\{"a":1 -->',
      "<!-- readme-test: expect: ok -->",
      "```sh",
      "curl a",
      "curl b",
      "```",
      "<!-- readme-test: skip: needs the moon -->",
      "```sh",
      "fly",
      "```",
    ].join("\n");
    const blocks = readmeBlocks(md);
    assert.deepEqual(blocks.map((b) => [b.line, b.code, b.server, b.skip]), [
      [4, "deno task dev", true, undefined],
      [12, "curl a\ncurl b", false, undefined],
      [17, "fly", false, "needs the moon"],
    ]);
    assert.deepEqual(blocks[1].expect.map(String), ['/\\{"a":1/', "/ok/"]);
  });
  await t.step("a typo or a stray marker is an error, not a silent run", () => {
    assert.throws(() => readmeBlocks("<!-- readme-test: skipp: x -->\n```sh\nx\n```"), /unknown/);
    assert.throws(() => readmeBlocks("<!-- readme-test: skip -->\n```sh\nx\n```"), /unknown/);
    assert.throws(() => readmeBlocks("<!-- readme-test: server -->\ntext\n```sh\nx\n```"), /not/);
    assert.throws(() => readmeBlocks("<!-- readme-test: server -->\n```\nx\n```"), /non-sh/);
    assert.throws(() => readmeBlocks("```sh\nx\n"), /unclosed/);
  });
});

Deno.test("localCommand() runs README commands with the local deno against the test's node", () => {
  assert.equal(
    localCommand(
      "TOKEN=$(npx -y deno@2.9.6 task -q token -- --sub a)\ncurl localhost:8000/x # :8001",
      "/opt/deno",
      4321,
    ),
    'TOKEN=$("/opt/deno" task -q token -- --sub a)\ncurl localhost:4321/x # :8001',
  );
  assert.equal(localCommand("deno task start", "/d", 1), '"/d" task start');
});

Deno.test("README.md: its markers parse, a node starts first, every skip says why", async () => {
  const blocks = readmeBlocks(
    await Deno.readTextFile(new URL("../../README.md", import.meta.url)),
  );
  const run = blocks.filter((b) => !b.skip);
  assert.ok(run[0]?.server, "the first block that runs starts the node");
  assert.ok(run.filter((b) => !b.server).length >= 5);
  for (const b of blocks.filter((b) => b.skip)) assert.ok(b.skip!.length > 5, `line ${b.line}`);
});

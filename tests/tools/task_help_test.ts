import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs `deno task <name> <args…>` from the project root; a guard kills it after 60 s. */
async function task(name: string, ...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(guard);
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("every task that takes options prints its usage for --help and runs nothing", async (t) => {
  for (const name of ["bench", "sim", "token", "dashboard"]) {
    await t.step(name, async () => {
      for (const help of ["--help", "-h"]) {
        const { code, stdout, stderr } = await task(name, help);
        assert.equal(code, 0, stderr);
        assert.match(stdout, new RegExp(`^Usage: deno task ${name}\\b`));
        assert.equal(stderr, "", "nothing else ran");
      }
    });
  }
});

Deno.test("an unknown option is refused with the usage and exit 2", async (t) => {
  for (const name of ["bench", "sim", "token", "dashboard"]) {
    await t.step(name, async () => {
      const { code, stdout, stderr } = await task(name, "--no-such-option");
      assert.equal(code, 2, stdout);
      assert.match(stderr, /--no-such-option/);
      assert.match(stderr, /Usage: deno task /);
    });
  }
});

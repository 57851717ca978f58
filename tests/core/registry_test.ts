import assert from "node:assert/strict";
import fc from "fast-check";
import { FEATURES } from "../../lib/core/registry.ts";
import { CORE_ENV, CORE_FIELDS } from "../../lib/core/fields.ts";
import { loadConfig, loadSecrets } from "../../lib/core/config.ts";
import { type EnvTable, parseByteSize, readEnvValue } from "../../lib/platform/config/env.ts";
import { ConfigError } from "../../lib/platform/config/errors.ts";

/** Every section as the loader reads it: the core's first, then the features' in order. */
const SECTIONS: Array<{ owner: string; fields: Record<string, unknown>; env: EnvTable }> = [
  { owner: "core", fields: CORE_FIELDS, env: CORE_ENV },
  ...FEATURES.map((f) => ({
    owner: f.name,
    fields: (f.config?.fields ?? {}) as Record<string, unknown>,
    env: f.config?.env ?? {},
  })),
];
const ROWS = SECTIONS.flatMap((s) => Object.entries(s.env).map(([name, row]) => ({ name, row })));

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail(`loaded with ${JSON.stringify(env)}`);
}

Deno.test("FEATURES have unique names, and each config field has one owner", () => {
  const names = FEATURES.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, names.join(", "));
  const owners = new Map<string, string>();
  for (const s of SECTIONS) {
    for (const field of Object.keys(s.fields)) {
      assert.ok(!owners.has(field), `${field}: ${owners.get(field)} and ${s.owner}`);
      owners.set(field, s.owner);
    }
  }
});

Deno.test("every environment variable is declared once, sets a field of its section, and is documented", async () => {
  const docs = (await Promise.all(
    ["config.md", "deploy.md"].map((f) =>
      Deno.readTextFile(new URL(`../../docs/${f}`, import.meta.url))
    ),
  )).join("\n");
  const seen = new Set<string>();
  for (const s of SECTIONS) {
    for (const [name, row] of Object.entries(s.env)) {
      assert.ok(!seen.has(name), `${name} is declared twice`);
      seen.add(name);
      if (row.path !== undefined) {
        const field = row.path.split(".")[0];
        assert.ok(field in s.fields, `${name} sets ${row.path}, not a field of ${s.owner}`);
      } else assert.equal(row.kind, "secret", `${name}: only a secret may set no field`);
      assert.ok(docs.includes("`" + name + "`"), `${name} is not in docs/config.md or deploy.md`);
    }
  }
});

Deno.test("an unreadable value of any variable is refused as NAME (field): reason", async (t) => {
  const reasons = {
    int: "Not an integer",
    number: "Not a number",
    bool: "Not a boolean",
    bytes: "Not a byte size",
  } as const;
  for (const { name, row } of ROWS) {
    const reason = reasons[row.kind as keyof typeof reasons];
    if (reason === undefined) continue;
    await t.step(name, () => {
      assert.ok(
        refusal({ [name]: "x1" }).includes(`${name} (${row.path}): ${reason}: x1`),
        name,
      );
    });
  }
});

Deno.test("readEnvValue() reads each kind's text, trimmed; blank is unset", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 999_999_999 }),
      fc.constantFrom("", " ", "\t"),
      (n, pad) => {
        assert.deepEqual(readEnvValue("int", `${pad}${n}${pad}`), { value: n });
        assert.deepEqual(readEnvValue("number", `${pad}${n}.5`), { value: n + 0.5 });
      },
    ),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1_000_000 }),
      fc.constantFrom("K", "KiB", "m", "MB", "g"),
      (n, unit) => {
        const factor = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit[0].toLowerCase()]!;
        assert.equal(parseByteSize(`${n} ${unit}`), n * factor);
      },
    ),
  );
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[a-z0-9/*]{1,8}$/)), (items) => {
      assert.deepEqual(readEnvValue("list", ` ${items.join(" , ")} ,`), { value: items });
    }),
  );
  for (const kind of ["int", "bool", "number", "bytes", "string", "json", "secret"] as const) {
    assert.equal(readEnvValue(kind, "  "), null, kind);
    assert.equal(readEnvValue(kind, undefined), null, kind);
  }
  assert.deepEqual(readEnvValue("list", ""), { value: [] }, "an empty list clears the list");
  assert.deepEqual(readEnvValue("bool", " ON "), { value: true });
  assert.deepEqual(readEnvValue("json", ' {"a": [1]} '), { value: { a: [1] } });
  assert.match((readEnvValue("json", "[1") as { error: string }).error, /^Not valid JSON: /);
});

Deno.test("loadSecrets() reads every secret of the tables, blank ones unset, the others as given", () => {
  const secrets = ROWS.filter((r) => r.row.kind === "secret").map((r) => r.name);
  assert.ok(secrets.includes("JWT_SECRET") && secrets.includes("ADMIN_TOKEN"), secrets.join());
  const env = Object.fromEntries(secrets.map((name) => [name, ` ${name.toLowerCase()}-value`]));
  const expected = Object.fromEntries(
    secrets.filter((name) => name !== "JWT_SECRET").map((name) => [name, env[name]]),
  );
  assert.deepEqual(loadSecrets({ ...env, JWT_SECRET: " ", PATH: "/bin" }), expected);
});

Deno.test("each registry line loads the feature of its name and config section", async () => {
  for (const entry of FEATURES) {
    const feature = (await entry.load()) as { name: string; config: unknown };
    assert.equal(feature.name, entry.name);
    assert.equal(feature.config, entry.config, entry.name);
  }
});

import assert from "node:assert/strict";
import { docEdge, SYNC_TOKEN } from "./_fixture.ts";
import type { DocEdge } from "./_fixture.ts";

type Obj = Record<string, unknown>;

/** What a guard answers a request without credentials, by the security scheme it stands for. */
const REFUSALS: Record<string, string[]> = {
  adminToken: ["admin_token_required", "admin_not_configured"],
  syncToken: ["unauthorized", "sync_disabled"],
  collectorToken: ["unauthorized", "central_not_configured"],
  bearerJwt: ["unauthenticated", "authz_not_configured"],
};
const GUARD_CODES = new Set(Object.values(REFUSALS).flat());

/**
 * Calls every operation of the document without credentials and checks the live answer against
 * its `security`: a secured operation is refused by its guard, an open one by none.
 */
async function probe(s: DocEdge): Promise<string[]> {
  const doc = await s.document();
  const out: string[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Obj>>)) {
    for (const [method, op] of Object.entries(item)) {
      const res = await s.call(path.replace(/\{[^}]+\}/g, "x1"), {
        method: method.toUpperCase(),
        ...(method === "post" || method === "put"
          ? { headers: { "content-type": "application/json" }, body: "{}" }
          : {}),
      });
      const text = await res.text();
      const code = res.headers.get("content-type")?.startsWith("application/problem+json")
        ? JSON.parse(text).code as string
        : null;
      const where = `${method.toUpperCase()} ${path} → ${res.status} ${code ?? ""}`;
      const security = (op.security ?? []) as Array<Record<string, string[]>>;
      const required = security.some((alternative) => Object.keys(alternative).length === 0)
        ? []
        : Object.keys(security[0] ?? {});
      if (required.length === 0) {
        if (code !== null && GUARD_CODES.has(code)) {
          out.push(`${where}: refused, yet documented open`);
        }
      } else if (!required.some((scheme) => REFUSALS[scheme].includes(code ?? ""))) {
        out.push(`${where}: documented as needing ${required.join(" and ")}, yet not refused`);
      }
    }
  }
  return out;
}

Deno.test("Each operation's security is where the live guards are", async (t) => {
  await t.step(
    "development: admin, sync, collector tokens and authorization configured",
    async () => {
      await using s = await docEdge({ authz: { enabled: true } }, { SYNC_TOKEN });
      assert.deepEqual(await probe(s), []);
    },
  );
  await t.step("production without ADMIN_TOKEN: operator endpoints closed", async () => {
    await using s = await docEdge({ mode: "production" }, { ADMIN_TOKEN: "" });
    assert.deepEqual(await probe(s), []);
    const doc = await s.document();
    const secured = Object.values(doc.paths as Record<string, Record<string, Obj>>)
      .flatMap((item) => Object.values(item))
      .filter((op) => JSON.stringify(op.security ?? []).includes("adminToken"));
    assert.ok(secured.length >= 5, `operator operations: ${secured.length}`);
  });
  await t.step("the probe finds a wrong description", async () => {
    await using s = await docEdge();
    const doc = await s.document();
    const paths = doc.paths as Record<string, Record<string, Obj>>;
    paths["/_edge/metrics"].get.security = undefined;
    paths["/_edge/whereami"].get.security = [{ adminToken: [] }];
    const wrong = { ...s, document: () => Promise.resolve(doc) };
    assert.deepEqual(await probe(wrong), [
      "GET /_edge/whereami → 200 : documented as needing adminToken, yet not refused",
      "GET /_edge/metrics → 401 admin_token_required: refused, yet documented open",
    ]);
  });
});

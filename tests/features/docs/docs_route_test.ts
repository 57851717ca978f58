import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AppEnv } from "../../../lib/core/request.ts";
import { problemHandler } from "../../../lib/platform/http/errors.ts";
import { DocsConfigSchema } from "../../../lib/features/docs/config.ts";
import { ConfigError } from "../../../lib/platform/config/errors.ts";
import { docsRoutes } from "../../../lib/features/docs/routes.ts";
import { SWAGGER_UI_VERSION } from "../../../lib/features/docs/swagger_ui.ts";
import { deadOrigin, makeConfig } from "../../helpers.ts";
import { docEdge } from "./_fixture.ts";

Deno.test("GET /_edge/docs answers Swagger UI whose every file comes from this node", async (t) => {
  await using s = await docEdge();
  const res = await s.call("/_edge/docs");
  const html = await res.text();
  await t.step("the page", () => {
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(html, /^<!doctype html>/);
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(
      sources.filter((u) => !u.startsWith("data:")),
      [
        `/_edge/docs/swagger-ui.css?v=${SWAGGER_UI_VERSION}`,
        "/_edge/openapi.json",
        `/_edge/docs/swagger-ui-bundle.js?v=${SWAGGER_UI_VERSION}`,
        sources.find((u) => u.startsWith("/_edge/docs/init.js?v="))!,
      ],
      "nothing from another host",
    );
    assert.ok(!/<script>/.test(html), "no inline script");
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.ok(!/https?:/.test(csp), `no other host allowed: ${csp}`);
    assert.equal(res.headers.get("x-served-by"), "us-east", "stamped like every answer");
  });
  await t.step("Swagger UI's script and stylesheet, from the pinned package", async () => {
    const pinned = (await import("../../../deno.json", { with: { type: "json" } })).default
      .imports["swagger-ui-dist/"];
    assert.equal(pinned, `npm:/swagger-ui-dist@${SWAGGER_UI_VERSION}/`);
    for (
      const [path, type, marker] of [
        ["/_edge/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"],
        ["/_edge/docs/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"],
      ]
    ) {
      const current = await s.call(`${path}?v=${SWAGGER_UI_VERSION}`);
      assert.equal(current.status, 200, path);
      assert.equal(current.headers.get("content-type"), type);
      assert.equal(current.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(current.headers.get("x-content-type-options"), "nosniff");
      const body = await current.text();
      assert.ok(body.length > 100_000 && body.includes(marker), path);
      assert.ok(!body.includes("sourceMappingURL"), "no reference to an unserved source map");
      const etag = current.headers.get("etag")!;
      const other = await s.call(`${path}?v=0.0.1`);
      assert.equal(other.headers.get("cache-control"), "no-cache", "an old page revalidates");
      await other.body?.cancel();
      const revalidated = await s.call(path, { headers: { "if-none-match": etag } });
      assert.equal(revalidated.status, 304);
    }
  });
  await t.step(
    "the start script points Swagger UI at the document, without a validator",
    async () => {
      const init = html.match(/\/_edge\/docs\/init\.js\?v=([0-9a-f]+)/)!;
      const res = await s.call(init[0]);
      assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      const script = await res.text();
      assert.match(script, /SwaggerUIBundle\(\{\s*url: "\/_edge\/openapi\.json"/);
      assert.match(script, /validatorUrl: null/);
    },
  );
});

Deno.test("GET /_edge/openapi.json is built once and revalidates by ETag", async () => {
  await using s = await docEdge();
  const first = await s.call("/_edge/openapi.json");
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(first.headers.get("cache-control"), "no-cache");
  const etag = first.headers.get("etag")!;
  assert.match(etag, /^"[0-9a-f]{24}"$/);
  const text = await first.text();
  const again = await s.call("/_edge/openapi.json");
  assert.equal(await again.text(), text);
  assert.equal(again.headers.get("etag"), etag);
  const revalidated = await s.call("/_edge/openapi.json", {
    headers: { "if-none-match": `"other", ${etag}` },
  });
  assert.equal(revalidated.status, 304);
  assert.equal(await revalidated.text(), "");
});

Deno.test("docsRoutes() answers 500 when the document cannot be built, and tries again", async () => {
  let calls = 0;
  const app = new Hono<AppEnv>().basePath("/_edge");
  app.onError(problemHandler(() => {}));
  docsRoutes(app, {
    config: DocsConfigSchema.parse({}),
    document() {
      calls++;
      return calls === 1
        ? Promise.reject(new Error("boom"))
        : Promise.resolve({ openapi: "3.1.0" });
    },
  });
  const failed = await app.request("/_edge/openapi.json");
  assert.equal(failed.status, 500);
  assert.equal((await failed.json()).code, "internal_error");
  const ok = await app.request("/_edge/openapi.json");
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { openapi: "3.1.0" });
  await app.request("/_edge/openapi.json");
  assert.equal(calls, 2, "built once after it succeeded");
});

Deno.test("docs config: bad values stop start-up naming the field", async (t) => {
  await t.step("defaults", () => {
    const config = makeConfig(deadOrigin());
    assert.deepEqual(config.docs, { enabled: true });
  });
  for (
    const [field, docs] of [
      ["docs.enabled", { enabled: "yes" }],
      ["docs", { swaggerUiBaseUrl: "https://cdn.jsdelivr.net/npm" }],
    ] as const
  ) {
    await t.step(field, () => {
      assert.throws(
        () => makeConfig(deadOrigin(), { docs } as never),
        (e: Error) => e instanceof ConfigError && e.message.includes(field),
      );
    });
  }
});

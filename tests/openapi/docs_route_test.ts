import assert from "node:assert/strict";
import { Hono } from "hono";
import type { AppEnv } from "../../lib/app_env.ts";
import { problemHandler } from "../../lib/http/errors.ts";
import { DocsConfigSchema } from "../../lib/openapi/config.ts";
import { ConfigError } from "../../lib/config.ts";
import { docsRoutes } from "../../routes/docs.ts";
import { deadOrigin, makeConfig } from "../helpers.ts";
import { docEdge } from "./_fixture.ts";

Deno.test("GET /_edge/docs answers Swagger UI pointed at /_edge/openapi.json", async (t) => {
  await t.step("default assets: pinned swagger-ui-dist on the CDN", async () => {
    await using s = await docEdge();
    const res = await s.call("/_edge/docs");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await res.text();
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /SwaggerUIBundle\(\{\s*dom_id: '#swagger-ui',url: '\/_edge\/openapi\.json'/);
    const base = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0";
    assert.ok(html.includes(`<script src="${base}/swagger-ui-bundle.js"`), html);
    assert.ok(html.includes(`<link rel="stylesheet" href="${base}/swagger-ui.css"`), html);
    assert.ok(html.includes("validatorUrl: 'none'"));
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self' 'unsafe-inline' https:\/\/cdn\.jsdelivr\.net;/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get("x-served-by"), "us-east", "stamped like every answer");
  });
  await t.step("a configured mirror", async () => {
    await using s = await docEdge({
      docs: { swaggerUiBaseUrl: "https://assets.example.com/vendor/", swaggerUiVersion: "5.1.0" },
    });
    const res = await s.call("/_edge/docs");
    const html = await res.text();
    assert.ok(html.includes("https://assets.example.com/vendor/swagger-ui-dist@5.1.0/"), html);
    assert.match(res.headers.get("content-security-policy")!, /https:\/\/assets\.example\.com/);
  });
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
    assert.deepEqual(config.docs, {
      enabled: true,
      swaggerUiBaseUrl: "https://cdn.jsdelivr.net/npm",
      swaggerUiVersion: "5.35.0",
    });
  });
  for (
    const [field, docs] of [
      ["docs.swaggerUiVersion", { swaggerUiVersion: "latest" }],
      ["docs.swaggerUiBaseUrl", { swaggerUiBaseUrl: "javascript:alert(1)" }],
      ["docs.enabled", { enabled: "yes" }],
      ["docs", { extra: 1 }],
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

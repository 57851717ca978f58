/**
 * `/_edge/docs` in a real browser with every request to another host blocked: Swagger UI must
 * render the node's operations from files the node serves itself (no CDN, no network).
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/core/clock.ts";
import { deadOrigin, makeConfig, startEdge } from "../../helpers.ts";
import { launchBrowser, openPage, screenshot, skipBrowser, waitUntil } from "../../_browser.ts";

Deno.test({
  name: "GET /_edge/docs renders the operations with no request to another host",
  ignore: skipBrowser(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using e = await startEdge(makeConfig(deadOrigin()), { clock: systemClock as never });
    await using browser = await launchBrowser();
    const [page, watch] = await openPage(browser, e.url);
    await page.goto(`${e.url}/_edge/docs`);
    const operations = page.locator(".opblock");
    await waitUntil("Swagger UI lists the operations", async () => await operations.count() > 20);
    const paths = await page.locator(".opblock-summary-path").allInnerTexts();
    for (const path of ["/_edge/health", "/events", "/crdt/counters/{name}/increment"]) {
      assert.ok(paths.some((p) => p.replace(/\u200b/g, "") === path), `${path} is listed`);
    }
    assert.match(await page.locator(".info .title").innerText(), /Outpost/);

    // One operation opened: its parameters and responses render too.
    await page.locator(".opblock-summary-path", { hasText: "/_edge/health" }).first().click();
    await page.locator(".opblock.is-open .responses-table").first().waitFor();

    const own = watch.requests.map((r) => new URL(r.url).pathname);
    for (const asset of ["/_edge/docs/swagger-ui-bundle.js", "/_edge/docs/swagger-ui.css"]) {
      assert.ok(own.includes(asset), `${asset} came from the node`);
    }
    assert.deepEqual(watch.blocked, [], "nothing was asked of another host");
    assert.deepEqual(watch.problems, [], "no console errors or warnings (CSP included)");
    await screenshot(page, "docs.png");
  },
});

/**
 * The dashboard in a real browser (chromium through playwright-core, other hosts blocked): three
 * regions on one KV with a real clock serve traffic and analytics events BEFORE the page opens;
 * the page asks for the admin token, refuses a wrong one, and with the right one shows every
 * chart filled from the server's history on its first answer; events posted afterwards move the
 * analytics chart. Screenshots go to test-results/ (looked at by hand: ticks, legends, lines).
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/core/clock.ts";
import { get, makeConfig, startEdge, startOrigin, type TestEdge } from "../../helpers.ts";
import { launchBrowser, openPage, screenshot, skipBrowser, waitUntil } from "../../_browser.ts";

const TOKEN = "dashboard-test-token-0123";
const CHARTS = ["chart-rps", "chart-latency", "chart-errors", "chart-hit", "chart-analytics"];

async function postEvents(edge: TestEdge, n: number): Promise<void> {
  const events = Array.from({ length: n }, (_, i) => ({
    user_id: `u-${i % 7}`,
    event_type: i % 3 === 0 ? "signup" : "click",
  }));
  const { res } = await get(`${edge.url}/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ events }),
  });
  assert.equal(res.status, 202);
}

Deno.test({
  name: "GET /_edge/dashboard signs in and shows every chart from server history at once",
  ignore: skipBrowser(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using origin = startOrigin();
    const kv = await Deno.openKv(":memory:");
    const edges: TestEdge[] = [];
    const metrics = {
      slotMs: 1000,
      windowMs: 60_000,
      snapshotIntervalMs: 300,
      snapshotTtlMs: 5000,
      // Only the error rate decides health here: a busy machine must not make p99 flip it.
      // The origin's own 500s make eu-west unhealthy, so they are counted.
      health: { maxP99Ms: 60_000, countOriginErrors: true },
    };
    let stopTraffic = false;
    let traffic: Promise<void> = Promise.resolve();
    try {
      for (const region of ["us-east", "eu-west", "ap-southeast"]) {
        const config = makeConfig(origin.url, { metrics } as never, {
          EDGE_REGION: region,
          ADMIN_TOKEN: TOKEN,
        });
        const e = await startEdge(config, { kv, clock: systemClock as never });
        e.edge.start();
        edges.push(e);
      }
      const [usEast, euWest, apSoutheast] = edges;
      traffic = (async () => {
        const deadline = Date.now() + 90_000;
        for (let i = 0; !stopTraffic && Date.now() < deadline; i++) {
          // us-east and eu-west get exactly the same requests (equal lines must both show);
          // ap-southeast gets half as many, some of them failing.
          const path = i % 4 === 0 ? "/cacheable/a?delay_ms=15" : "/api/echo";
          await get(`${usEast.url}${path}`);
          await get(`${euWest.url}${path}`);
          if (i % 2 === 0) {
            await get(`${apSoutheast.url}${i % 8 === 0 ? "/status/500" : path}`);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await postEvents(euWest, 40);
      // Let a few one-second slots complete before anyone looks.
      await new Promise((r) => setTimeout(r, 3500));

      await using browser = await launchBrowser();
      const [page, watch] = await openPage(browser, usEast.url);
      // An old bookmark with the token in the address: taken out, and not used.
      await page.goto(`${usEast.url}/_edge/dashboard?token=${TOKEN}&interval_ms=1000`);
      assert.ok(!page.url().includes(TOKEN), "the token is taken out of the address bar");

      // No token yet: the sign-in form, not data.
      await page.locator("#signin-panel").waitFor({ state: "visible" });
      assert.equal(await page.locator(".live").isVisible(), false);
      assert.match(await page.locator("#signin-error").innerText(), /not used/);
      await screenshot(page, "dashboard-signin.png");

      await page.locator("#token").fill("wrong-token-but-long-enough");
      await page.locator("#signin button[type=submit]").click();
      await waitUntil(
        "a wrong token is refused",
        async () => /refused/.test(await page.locator("#signin-error").innerText()),
      );
      await page.locator("#token").fill(TOKEN);
      await page.locator("#signin button[type=submit]").click();
      await page.locator("#signin-panel").waitFor({ state: "hidden" });

      // The first answer after sign-in already fills every chart: history, not the browser's.
      const polls = async () => Number(await page.locator("body").getAttribute("data-polls"));
      const pointsOf = async (id: string) =>
        Number(await page.locator(`#${id}`).getAttribute("data-points") ?? "0");
      const signedInAt = await polls();
      await waitUntil("the first poll after sign-in", async () => await polls() > signedInAt);
      for (const id of CHARTS) {
        assert.ok(await pointsOf(id) > 0, `${id} has data on the first poll`);
        assert.equal(await page.locator(`#${id} canvas`).count(), 1, `${id} has a canvas`);
        assert.equal(await page.locator(`#${id} .chart-empty`).isVisible(), false, id);
      }

      // Events posted now move the analytics chart (once their slot ends) and the total (at once).
      const sumOf = async () =>
        Number(await page.locator("#chart-analytics").getAttribute("data-sum"));
      const sumBefore = await sumOf();
      const totalBefore = await page.locator("#events-total").innerText();
      await postEvents(apSoutheast, 60);
      await postEvents(apSoutheast, 60);
      await waitUntil(
        "the events total moves",
        async () => (await page.locator("#events-total").innerText()) !== totalBefore,
      );
      await waitUntil("the analytics chart moves", async () => (await sumOf()) > sumBefore + 50);

      assert.equal(await page.locator("#error").isHidden(), true);
      assert.equal(await page.locator("#status").innerText(), "1 of 3 edges unhealthy");
      assert.equal(await page.locator("#edges tr").count(), 3);
      assert.equal(await page.locator("#edges tr.unhealthy").count(), 1);
      assert.match(await page.locator("#kpi-p99").innerText(), /\d+(\.\d+)? (µs|ms|s)$/);
      assert.equal(await page.locator("#getting-started").isHidden(), true);

      // Each region is drawn in its own style: equal traffic never hides a line.
      const markers: string[] = [];
      for (
        const marker of await page.locator("#chart-rps .u-series:not(:first-child) .u-marker")
          .all()
      ) {
        markers.push((await marker.getAttribute("style")) ?? "");
      }
      assert.equal(markers.length, 3);
      assert.equal(new Set(markers).size, 3, `distinct markers: ${markers.join(", ")}`);

      // Every stats request carried the token as a header; no URL carried it.
      const stats = watch.requests.filter((r) => r.url.includes("/_edge/stats"));
      assert.ok(stats.some((r) => r.authorization === `Bearer ${TOKEN}`));
      assert.ok(watch.requests.slice(1).every((r) => !r.url.includes(TOKEN)));
      assert.deepEqual(watch.blocked, [], "no request left this host");

      await screenshot(page, "dashboard.png");
      await page.emulateMedia({ colorScheme: "dark" });
      await page.waitForTimeout(1500);
      await screenshot(page, "dashboard-dark.png");
      // Chromium logs every 4xx fetch: the sign-in's 401 (no token) and 403 (wrong token).
      const expected = /^Failed to load resource: .* status of (401|403) /;
      assert.deepEqual(
        watch.problems.filter((p) => expected.test(p)).map((p) => p.match(/\d{3}/)![0]),
        ["401", "403"],
      );
      assert.deepEqual(
        watch.problems.filter((p) => !expected.test(p)),
        [],
        "no other console errors or warnings",
      );
    } finally {
      stopTraffic = true;
      await traffic;
      for (const e of edges) await e[Symbol.asyncDispose]();
      kv.close();
    }
  },
});

Deno.test({
  name: "GET /_edge/dashboard explains an empty node and a node closed in production",
  ignore: skipBrowser(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using origin = startOrigin();
    await using browser = await launchBrowser();
    await t.step(
      "development, no traffic yet: what to do, on the page and every chart",
      async () => {
        await using e = await startEdge(makeConfig(origin.url), { clock: systemClock as never });
        const [page, watch] = await openPage(browser, e.url);
        await page.goto(`${e.url}/_edge/dashboard?interval_ms=1000`);
        const intro = page.locator("#getting-started");
        await intro.waitFor({ state: "visible" });
        assert.match(await intro.innerText(), /No requests in the last 5 min.*curl/);
        for (const id of CHARTS) {
          const text = await page.locator(`#${id} .chart-empty`).innerText();
          assert.ok(text.length > 20, `${id} explains itself: ${text}`);
        }
        assert.match(
          await page.locator("#chart-analytics .chart-empty").innerText(),
          /POST them to \/events/,
        );
        assert.equal(await page.locator("#signin-panel").isVisible(), false, "open in development");
        await screenshot(page, "dashboard-empty.png");
        assert.deepEqual(watch.problems, []);
        await page.close();
      },
    );
    await t.step("production without ADMIN_TOKEN: why nothing shows", async () => {
      await using e = await startEdge(
        makeConfig(origin.url, {}, { OUTPOST_MODE: "production" }),
        { clock: systemClock as never },
      );
      const [page] = await openPage(browser, e.url);
      await page.goto(`${e.url}/_edge/dashboard`);
      const banner = page.locator("#error");
      await banner.waitFor({ state: "visible" });
      assert.match(await banner.innerText(), /without ADMIN_TOKEN/);
      assert.equal(await page.locator("#signin-panel").isVisible(), false);
      await page.close();
    });
  },
});

/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core opens it on edges
 * served on port 0 (three regions on one KV, real clock), waits for data while traffic flows,
 * checks that the charts rendered without console errors, and saves screenshots to
 * test-results/ (git-ignored). Set OUTPOST_SKIP_BROWSER=1 to skip it where chromium is missing.
 */

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { systemClock } from "../../lib/clock.ts";
import { get, makeConfig, startEdge, startOrigin, type TestEdge } from "../helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "dashboard-test-token-0123";
const RESULTS = new URL("../../test-results/", import.meta.url);

/** Resolves once `check` is true (every 200 ms, for at most `timeoutMs`). */
async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const skip = Deno.env.get("OUTPOST_SKIP_BROWSER") === "1";
if (skip && !chromiumInstalled()) {
  console.warn(
    `Skipping the dashboard browser test: ${CHROMIUM} is missing (OUTPOST_SKIP_BROWSER=1)`,
  );
}

Deno.test({
  name: "GET /_edge/dashboard renders live charts in chromium without console errors",
  ignore: skip && !chromiumInstalled(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    assert.ok(
      chromiumInstalled(),
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), ` +
        "or set OUTPOST_SKIP_BROWSER=1 to skip this test",
    );
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
    const userData = await Deno.makeTempDir({ prefix: "outpost-chromium-" });
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
      // What the analytics area will record; the dashboard shows its rate.
      const events = edges[1].edge.metrics.counter("outpost_analytics_events_total", "Events");
      traffic = (async () => {
        const deadline = Date.now() + 60_000;
        for (let i = 0; !stopTraffic && Date.now() < deadline; i++) {
          const e = edges[i % edges.length];
          // eu-west (every third request) fails often enough to be unhealthy; the others not.
          const path = i % 3 === 1 && i % 4 === 0
            ? "/status/500"
            : i % 5 === 0
            ? "/cacheable/a?delay_ms=15"
            : "/api/echo";
          await get(`${e.url}${path}`);
          events.inc({ type: "click" }, 3);
          await new Promise((r) => setTimeout(r, 15));
        }
      })();

      const context = await chromium.launchPersistentContext(userData, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1400, height: 1000 },
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
      try {
        const page = await context.newPage();
        const problems: string[] = [];
        page.on("console", (msg) => {
          if (msg.type() === "error" || msg.type() === "warning") problems.push(msg.text());
        });
        page.on("pageerror", (error) => problems.push(String(error)));
        await page.goto(`${edges[0].url}/_edge/dashboard?token=${TOKEN}&interval_ms=1000`);
        assert.ok(!page.url().includes(TOKEN), "the token is taken out of the address bar");

        // Polled from here through locators: the page's CSP forbids evaluating strings in it.
        const polls = async () => Number(await page.locator("body").getAttribute("data-polls"));
        await waitUntil(async () =>
          await polls() >= 4 &&
          await page.locator("#edges tr").count() === 3 &&
          await page.locator("#kpi-rps").innerText() !== "0" &&
          await page.locator("#chart-analytics canvas").count() === 1
        );
        // A few more polls so the history charts have several points.
        await waitUntil(async () => await polls() >= 8);

        for (
          const id of ["chart-rps", "chart-latency", "chart-errors", "chart-hit", "chart-analytics"]
        ) {
          assert.equal(await page.locator(`#${id} canvas`).count(), 1, `${id} has a canvas`);
        }
        assert.equal(await page.locator("#error").isHidden(), true);
        assert.equal(await page.locator("#status").innerText(), "1 of 3 edges unhealthy");
        assert.equal(await page.locator("#edges tr.unhealthy").count(), 1);
        assert.equal(await page.locator("#analytics-empty").isHidden(), true);
        assert.match(await page.locator("#kpi-p99").innerText(), /\d+(\.\d+)? (µs|ms|s)$/);

        await Deno.mkdir(RESULTS, { recursive: true });
        await page.screenshot({ path: new URL("dashboard.png", RESULTS).pathname, fullPage: true });
        await page.emulateMedia({ colorScheme: "dark" });
        await page.waitForTimeout(1500);
        await page.screenshot({
          path: new URL("dashboard-dark.png", RESULTS).pathname,
          fullPage: true,
        });
        assert.deepEqual(problems, [], "no console errors or warnings");
      } finally {
        await context.close();
      }
    } finally {
      stopTraffic = true;
      await traffic;
      for (const e of edges) await e[Symbol.asyncDispose]();
      kv.close();
      await Deno.remove(userData, { recursive: true }).catch(() => {});
    }
  },
});

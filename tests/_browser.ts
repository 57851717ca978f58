/**
 * Browser tests: Debian's chromium driven by playwright-core, headless, with every request to a
 * host other than the page's own aborted and recorded, so a page that needs the internet fails.
 * Set OUTPOST_SKIP_BROWSER=1 to skip them where chromium is missing.
 */

import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Where Debian installs chromium. */
export const CHROMIUM = "/usr/bin/chromium";
/** Screenshots go here (git-ignored). */
export const RESULTS = new URL("../test-results/", import.meta.url);

function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** True when the browser tests should be skipped (asked for, and chromium is missing). */
export function skipBrowser(): boolean {
  const skip = Deno.env.get("OUTPOST_SKIP_BROWSER") === "1" && !chromiumInstalled();
  if (skip) {
    console.warn(`Skipping a browser test: ${CHROMIUM} is missing (OUTPOST_SKIP_BROWSER=1)`);
  }
  return skip;
}

/** A browser with a fresh profile; closing it removes the profile. */
export interface Browser extends AsyncDisposable {
  context: BrowserContext;
}

/** Starts chromium headless with no background traffic of its own. */
export async function launchBrowser(
  options: { colorScheme?: "light" | "dark" } = {},
): Promise<Browser> {
  if (!chromiumInstalled()) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), ` +
        "or set OUTPOST_SKIP_BROWSER=1 to skip the browser tests",
    );
  }
  const userData = await Deno.makeTempDir({ prefix: "outpost-chromium-" });
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    colorScheme: options.colorScheme ?? "light",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-default-apps",
      "--disable-extensions",
    ],
  });
  return {
    context,
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(userData, { recursive: true }).catch(() => {});
    },
  };
}

/** What a page did that a test checks: console problems, and requests to other hosts. */
export interface PageWatch {
  /** Console errors and warnings, and uncaught exceptions. */
  problems: string[];
  /** URLs of requests to other hosts (aborted). */
  blocked: string[];
  /** Requests to the page's own host: method, URL and the Authorization header. */
  requests: Array<{ method: string; url: string; authorization: string | null }>;
}

/** Opens a page that may talk only to `origin`; everything else is aborted and recorded. */
export async function openPage(browser: Browser, origin: string): Promise<[Page, PageWatch]> {
  const page = await browser.context.newPage();
  const watch: PageWatch = { problems: [], blocked: [], requests: [] };
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") watch.problems.push(msg.text());
  });
  page.on("pageerror", (error) => watch.problems.push(String(error)));
  await page.route("**/*", async (route) => {
    const request = route.request();
    const url = request.url();
    if (url.startsWith("data:") || new URL(url).origin === origin) {
      watch.requests.push({
        method: request.method(),
        url,
        authorization: await request.headerValue("authorization"),
      });
      await route.continue();
    } else {
      watch.blocked.push(url);
      await route.abort("blockedbyclient");
    }
  });
  return [page, watch];
}

/** Resolves once `check` is true (every 200 ms, for at most `timeoutMs`). */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Saves a full-page screenshot under test-results/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(RESULTS, { recursive: true });
  const path = new URL(name, RESULTS).pathname;
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Loads the IP database once in this fresh process and prints what it cost as JSON: the time,
 * the longest event-loop stall while it loaded, and memory after a full GC (heap used and
 * external as the load added them; RSS as it stands). The argument is the checkout whose
 * `lib/features/geo/ipdb.ts` to load (default: this one; an older checkout's `lib/geo/ipdb.ts`).
 * Run with `--v8-flags=--expose-gc` (bench/cold_start.ts does).
 */

const at = Deno.args[0] ?? new URL("../../", import.meta.url).href;
const module = ["lib/features/geo/ipdb.ts", "lib/geo/ipdb.ts"].map((path) => new URL(path, at))
  .find((url) => {
    try {
      return Deno.statSync(url).isFile;
    } catch {
      return false;
    }
  }) ?? new URL("lib/features/geo/ipdb.ts", at);
const { loadIpDatabase } = await import(module.href) as {
  loadIpDatabase(): Promise<{ lookup(ip: string): string | null; size: number }>;
};

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
gc();
const before = Deno.memoryUsage();
let maxStallMs = 0;
let last = performance.now();
const ticker = setInterval(() => {
  const now = performance.now();
  maxStallMs = Math.max(maxStallMs, now - last);
  last = now;
}, 1);
const started = performance.now();
const db = await loadIpDatabase();
const loadMs = performance.now() - started;
clearInterval(ticker);
maxStallMs = Math.max(maxStallMs, performance.now() - last);
// The database must answer, or the figures are of nothing.
if (db.lookup("8.8.8.8") !== "US") throw new Error("The database does not place 8.8.8.8 in US");
gc();
const after = Deno.memoryUsage();
const mib = (n: number) => n / 1024 / 1024;
const format = "builtAt" in db ? "mmdb" : "csv";
console.log(JSON.stringify({
  format,
  loadMs,
  maxStallMs,
  heapUsedMiB: mib(after.heapUsed - before.heapUsed),
  externalMiB: mib(after.external - before.external),
  rssMiB: mib(after.rss),
  size: db.size,
}));

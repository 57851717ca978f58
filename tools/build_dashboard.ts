/**
 * Bundles the dashboard's browser code (lib/features/monitoring/dashboard/app.ts with uPlot and its CSS)
 * with esbuild-wasm into lib/features/monitoring/dashboard/bundle.json, which the edge serves. The bundle is
 * committed so the edge never runs esbuild itself; a test rebuilds it and fails when it is stale.
 * Usage: deno task dashboard [--check] (`--help` for details)
 */

import * as esbuild from "esbuild-wasm";
import { sha256Hex } from "../lib/platform/hash.ts";

const DIR = new URL("../lib/features/monitoring/dashboard/", import.meta.url);
/** Where the bundle is written. */
export const BUNDLE_URL = new URL("bundle.json", DIR);

/** The built script and stylesheet, and a hash of both for cache busting. */
export interface DashboardBundle {
  hash: string;
  js: string;
  css: string;
}

/** Resolves `uplot` and `uplot/…` to files of the npm package Deno installed. */
async function npmFile(specifier: string): Promise<string> {
  // Loading the package once makes sure Deno has it installed before its files are read.
  await import("uplot");
  const target = specifier === "uplot" ? "uplot/dist/uPlot.esm.js" : specifier;
  return new URL(import.meta.resolve(target)).pathname;
}

/** Builds the bundle in memory. */
export async function buildDashboard(): Promise<DashboardBundle> {
  await esbuild.initialize({});
  try {
    const result = await esbuild.build({
      entryPoints: [new URL("app.ts", DIR).pathname],
      bundle: true,
      write: false,
      format: "esm",
      target: "es2022",
      minify: true,
      legalComments: "none",
      outdir: "/out",
      logLevel: "silent",
      plugins: [{
        name: "deno-npm",
        setup(build) {
          build.onResolve({ filter: /^uplot(\/|$)/ }, async (args) => ({
            path: await npmFile(args.path),
          }));
        },
      }],
    });
    const text = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? "";
    const js = text(".js");
    const css = text(".css");
    const hash = await sha256Hex(js + css, 8);
    return { hash, js, css };
  } finally {
    await esbuild.stop();
  }
}

/** The committed bundle's text for `bundle`. */
export function bundleText(bundle: DashboardBundle): string {
  return JSON.stringify(bundle) + "\n";
}

const USAGE = `Usage: deno task dashboard [--check]
  Bundles lib/features/monitoring/dashboard/app.ts (with uPlot) into lib/features/monitoring/dashboard/bundle.json.
  --check     build in memory and exit 1 if the committed bundle differs (writes nothing)
  --help, -h  this text`;

if (import.meta.main) {
  const known = new Set(["--check", "--help", "-h", "--"]);
  const unknown = Deno.args.find((a) => !known.has(a));
  if (unknown !== undefined) {
    console.error(`Unknown option '${unknown}'\n${USAGE}`);
    Deno.exit(2);
  }
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const bundle = await buildDashboard();
  const text = bundleText(bundle);
  if (Deno.args.includes("--check")) {
    const current = await Deno.readTextFile(BUNDLE_URL).catch(() => "");
    if (current !== text) {
      console.error(
        "lib/features/monitoring/dashboard/bundle.json is stale: run deno task dashboard",
      );
      Deno.exit(1);
    }
    console.log(`dashboard bundle is current (${bundle.hash})`);
  } else {
    await Deno.writeTextFile(BUNDLE_URL, text);
    console.log(
      `wrote ${BUNDLE_URL.pathname}: js ${bundle.js.length} B, css ${bundle.css.length} B`,
    );
  }
}

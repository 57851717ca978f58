/** The command line of `deno task bench`: options, help text and strict parsing. */

import { parseArgs } from "node:util";
import type { LoadOptions } from "./report.ts";

/** The help text. */
export const BENCH_USAGE = `Usage: deno task bench [--quick] [--only NAME] [load options]
  Runs every micro-benchmark (bench/*_bench.ts), every load comparison (bench/load/*.ts, with wrk)
  and the items staleness, origin faults and WebSocket measurements; writes bench/results/latest.md
  and .json.
  --quick             short runs (load: 2 s, one round; staleness: 30 samples)
  --only NAME         only the files whose name contains NAME (e.g. --only cache)
  --duration S        seconds per load measurement
  --connections N     wrk connections
  --rounds N          load rounds, alternating targets
  --help, -h          this text`;

/** What `deno task bench` was asked to do. */
export interface BenchArgs {
  quick: boolean;
  only?: string;
  load: LoadOptions;
}

/** Bad command-line input; its message says what was wrong. */
export class BenchUsageError extends Error {}

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) throw new BenchUsageError(`Invalid --${name}: ${raw}`);
  return n;
}

/** Parses the command line; `null` for --help. Throws {@linkcode BenchUsageError}. */
export function parseBenchArgs(args: readonly string[]): BenchArgs | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: args.filter((a) => a !== "--"),
      options: {
        quick: { type: "boolean", default: false },
        only: { type: "string" },
        duration: { type: "string" },
        connections: { type: "string" },
        rounds: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  if (values.help) return null;
  const quick = values.quick;
  return {
    quick,
    only: values.only,
    load: {
      durationS: positive("duration", values.duration) ?? (quick ? 2 : undefined),
      connections: positive("connections", values.connections),
      rounds: positive("rounds", values.rounds) ?? (quick ? 1 : undefined),
    },
  };
}

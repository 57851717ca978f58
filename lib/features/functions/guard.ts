/**
 * The process-wide safety net for code the edge runs but does not control: an exception thrown
 * from a function's stray timer or callback, or a promise it rejected and never awaited, would
 * otherwise end the process (Deno's default). It is logged and counted instead, and the node
 * keeps serving. Installed by main.ts when functions are mounted.
 */

import type { Logger } from "../../core/log.ts";
import type { MetricsRegistry } from "../../core/metrics.ts";

/** Removes the listeners again (tests). */
export type Uninstall = () => void;

/** Logs and counts uncaught errors and unhandled rejections instead of exiting. */
export function installCrashGuard(log: Logger, metrics: MetricsRegistry): Uninstall {
  const uncaught = metrics.counter(
    "outpost_uncaught_errors_total",
    "Errors no code handled (kind: exception, rejection); logged, and the node kept running",
  );
  function onError(event: ErrorEvent): void {
    event.preventDefault();
    uncaught.inc({ kind: "exception" });
    log.error("uncaught exception (the node keeps running)", { error: event.error });
  }
  function onRejection(event: PromiseRejectionEvent): void {
    event.preventDefault();
    uncaught.inc({ kind: "rejection" });
    log.error("unhandled promise rejection (the node keeps running)", { error: event.reason });
  }
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  return () => {
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  };
}

/**
 * Keeping `_manifest.ts` current while developing: a file added, renamed or removed under the
 * functions folder regenerates the manifest, and `deno run --watch` (which watches the manifest
 * through its imports) then restarts the edge with it. A name that cannot be a route is logged
 * and the manifest left as it was, so a half-typed file name never takes the edge down.
 */

import type { Logger } from "../../core/log.ts";
import {
  functionsPath,
  MANIFEST_FILE,
  type ManifestWrite,
  type ProjectRoot,
  writeManifest,
} from "./generate.ts";

/** Options for {@linkcode watchManifest}. */
export interface WatchOptions extends ProjectRoot {
  log: Logger;
  /** Quiet time before regenerating (editors write a file in several steps). */
  debounceMs?: number;
  /** Called after every regeneration (tests wait on it). */
  onWrite?: (write: ManifestWrite) => void;
  /** Called when regeneration failed (after it was logged). */
  onError?: (error: unknown) => void;
}

/** A running watcher. */
export interface ManifestWatcher {
  /** Stops watching; resolves when the last regeneration has finished. */
  close(): Promise<void>;
}

function relevant(event: Deno.FsEvent): boolean {
  if (event.kind === "access" || event.kind === "other") return false;
  return event.paths.some((path) => {
    const base = path.slice(path.lastIndexOf("/") + 1);
    return base !== MANIFEST_FILE && !base.startsWith(`.${MANIFEST_FILE}.`);
  });
}

/** Watches `dir` and regenerates its manifest after changes (one regeneration at a time). */
export function watchManifest(dir: string, options: WatchOptions): ManifestWatcher {
  const log = options.log.child({ area: "functions" });
  const debounceMs = options.debounceMs ?? 100;
  const watcher = Deno.watchFs(functionsPath(dir, options), { recursive: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;

  async function regenerate(): Promise<void> {
    do {
      again = false;
      try {
        const write = await writeManifest(dir, { root: options.root });
        if (write.changed) {
          log.info("functions manifest regenerated", {
            path: write.path,
            functions: write.files.map((f) => f.name),
          });
        }
        options.onWrite?.(write);
      } catch (error) {
        log.error("functions manifest not regenerated; the previous one stays", { dir, error });
        options.onError?.(error);
      }
    } while (again && !closed);
  }

  function schedule(): void {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (running) {
        again = true;
        return;
      }
      running = regenerate().finally(() => (running = null));
    }, debounceMs);
  }

  const loop = (async () => {
    try {
      for await (const event of watcher) if (relevant(event)) schedule();
    } catch (error) {
      if (!closed) log.error("watching the functions folder failed", { dir, error });
    }
  })();

  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
      await loop;
      await running;
    },
  };
}

/** A/B testing at the edge: sticky cookie, else a deterministic assignment told to the origin. */

import type { Context, MiddlewareHandler, Next } from "hono";
import type { AppEnv } from "../../core/request.ts";
import type { Experiment } from "./config.ts";
import { parseCookieHeader } from "../../platform/http/cookies.ts";
import { compilePathPatterns } from "../../platform/http/path_pattern.ts";
import { assignVariant, compileExperiment } from "./assign.ts";

const ID_HEADER_VALUE = /^[\x21-\x7e]{1,256}$/;
const NONE: readonly string[] = Object.freeze([]);

/**
 * The request headers by which the experiments at a path tell the origin its variant (as
 * configured; empty where no experiment runs). The cache keys those paths by them.
 */
export function experimentHeaders(
  experiments: readonly Experiment[],
): (path: string) => readonly string[] {
  if (experiments.length === 0) return () => NONE;
  const compiled = experiments.map((e) => ({
    header: e.header,
    matches: compilePathPatterns(e.paths),
  }));
  return (path) => {
    let out: string[] | null = null;
    for (const e of compiled) if (e.matches(path)) (out ??= []).push(e.header);
    return out ?? NONE;
  };
}

/** Assigns each request to a variant of every experiment whose paths it matches. */
export function abTesting(experiments: readonly Experiment[]): MiddlewareHandler<AppEnv> {
  const compiled = experiments.map((e) => ({
    ...compileExperiment(e),
    matches: compilePathPatterns(e.paths),
  }));
  type Compiled = (typeof compiled)[number];
  if (compiled.length === 0) {
    return function abTesting(_c, next) {
      return next();
    };
  }
  return function abTesting(c, next) {
    // Most paths are in no experiment: they pass on without an array or an async frame.
    const path = c.req.path;
    let active: Compiled[] | null = null;
    for (const e of compiled) if (e.matches(path)) (active ??= []).push(e);
    if (active === null) return next();
    return assign(c, next, active);
  };

  async function assign(
    c: Context<AppEnv>,
    next: Next,
    active: readonly Compiled[],
  ): Promise<void> {
    const ctx = c.env.ctx;
    const cookies = parseCookieHeader(c.req.header("cookie"));
    const variants: Record<string, string> = {};
    const setCookies: string[] = [];
    const secure = ctx.clientProto === "https" ? "; Secure" : "";
    for (const e of active) {
      const { experiment } = e;
      const sticky = cookies.get(experiment.cookie);
      if (sticky !== undefined && e.names.has(sticky)) {
        variants[experiment.name] = sticky;
        continue;
      }
      const id = experiment.idHeader ? c.req.header(experiment.idHeader) : undefined;
      const key = id !== undefined && ID_HEADER_VALUE.test(id)
        ? `id:${id}`
        : ctx.clientIp ?? crypto.randomUUID();
      const variant = assignVariant(e, key);
      variants[experiment.name] = variant;
      setCookies.push(
        `${experiment.cookie}=${variant}; Path=/; Max-Age=${experiment.maxAgeSeconds}; SameSite=Lax${secure}`,
      );
    }
    ctx.variants = variants;
    for (const e of active) ctx.originHeaders[e.experiment.header] = variants[e.experiment.name];
    await next();
    if (setCookies.length === 0) return;
    try {
      for (const cookie of setCookies) c.res.headers.append("set-cookie", cookie);
    } catch {
      // Immutable headers (a response straight from fetch): copy once.
      const res = new Response(c.res.body, c.res);
      for (const cookie of setCookies) res.headers.append("set-cookie", cookie);
      c.res = res;
    }
  }
}

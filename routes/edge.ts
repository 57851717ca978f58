/** The edge's own endpoints under `/_edge/*`. */

import { Hono } from "hono";
import type { AppEnv } from "../lib/app_env.ts";
import type { Clock } from "../lib/clock.ts";
import type { Jobs } from "../lib/jobs.ts";
import type { OriginHealth } from "../lib/proxy/breaker.ts";
import { jsonResponse } from "../lib/http/respond.ts";

const NO_STORE = { "cache-control": "no-store" };

/** What the edge routes read. */
export interface EdgeRoutesOptions {
  region: string;
  clock: Clock;
  startedAt: number;
  health: OriginHealth;
  jobs: Jobs;
  ipDatabaseReady: () => boolean;
}

/** Builds the `/_edge/*` app (unknown paths fall to the app's 404 problem handler). */
export function edgeRoutes(options: EdgeRoutesOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>().basePath("/_edge");

  app.get("/whereami", (c) => {
    const { geo, clientIp } = c.env.ctx;
    return jsonResponse(
      {
        source: geo.source,
        country: geo.country,
        lat: geo.lat,
        lon: geo.lon,
        nearestRegion: geo.nearestRegion,
        distanceKm: geo.distanceKm === null ? null : Math.round(geo.distanceKm * 10) / 10,
        clientIp,
        servedBy: options.region,
      },
      200,
      NO_STORE,
    );
  });

  app.get("/health", () =>
    jsonResponse(
      {
        status: "ok",
        region: options.region,
        uptime_s: Math.round((options.clock.now() - options.startedAt) / 1000),
        origins: options.health.snapshot(),
        ip_database: options.ipDatabaseReady() ? "ready" : "loading",
        jobs: options.jobs.stats(),
      },
      200,
      NO_STORE,
    ));

  return app;
}

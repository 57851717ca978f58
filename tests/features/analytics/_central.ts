/** A real collector (role `central`) on port 0 whose summary endpoint can be made to misbehave. */

import { ManualClock } from "../../../lib/core/clock.ts";
import { createApp } from "../../../lib/core/app.ts";
import { makeConfig } from "../../helpers.ts";

/** The shared token of the analytics integration tests. */
export const TOKEN = "integration-token-0123456789abcdef";

/** How the next summary POST is treated. */
export type Fault = "fail" | "apply_then_fail" | "apply_then_hang" | "hang";

/** A running collector. */
export interface TestCentral extends AsyncDisposable {
  url: string;
  /** Faults for the next summary POSTs, in order; later ones are served normally. */
  faults: Fault[];
  /** Summary POSTs received. */
  posts: number;
  /** POSTs left hanging so far. */
  hangs: number;
  stats(): Promise<
    {
      total_events: number;
      by_event_type: Record<string, number>;
      by_edge: Record<string, number>;
      summaries: number;
      intervals: unknown[];
    }
  >;
}

/** Starts a collector on `:memory:` KV. */
export async function startCentral(faults: Fault[] = []): Promise<TestCentral> {
  const kv = await Deno.openKv(":memory:");
  const config = makeConfig("http://127.0.0.1:1", {
    role: "central",
    analytics: { centralToken: TOKEN },
  });
  const app = createApp({ config, kv, clock: new ManualClock() });
  const release = new AbortController();
  const state = { faults, posts: 0, hangs: 0 };
  const hang = () =>
    new Promise<Response>((resolve) => {
      state.hangs++;
      release.signal.addEventListener("abort", () => resolve(new Response(null, { status: 503 })));
    });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (req, info) => {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/_central/summary") {
        return app.fetch(
          req,
          info,
        );
      }
      state.posts++;
      const fault = state.faults.shift();
      if (fault === undefined) return await app.fetch(req, info);
      if (fault === "fail") return new Response("down for maintenance", { status: 500 });
      if (fault === "hang") return await hang();
      const res = await app.fetch(req, info);
      await res.body?.cancel();
      if (fault === "apply_then_fail") return new Response("lost the answer", { status: 502 });
      return await hang(); // apply_then_hang
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  return Object.assign(state, {
    url,
    async stats() {
      const res = await fetch(`${url}/_central/stats?intervals=100`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return await res.json();
    },
    async [Symbol.asyncDispose]() {
      release.abort();
      await server.shutdown();
      await app.close();
      kv.close();
    },
  });
}

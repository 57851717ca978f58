/**
 * The demo origin on its own: `deno run -A tools/demo_origin.ts [--port 8001] [--name us-east]`.
 * Used by benchmarks and the simulator to run an origin in a separate process.
 */

import { createDemoOrigin } from "../lib/features/proxy/demo_origin.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const port = Number(arg("port") ?? Deno.env.get("PORT") ?? 8001);
const name = arg("name") ?? Deno.env.get("ORIGIN_NAME") ?? "demo";
const demo = createDemoOrigin({ name });
const server = Deno.serve({
  port,
  hostname: "127.0.0.1",
  onListen: ({ port }) => console.log(JSON.stringify({ msg: "demo origin listening", name, port })),
}, (req) => demo.fetch(req));
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.shutdown();
    Deno.exit(0);
  });
}

/** Bare `Deno.serve` hello world: the baseline every throughput figure is compared with. */
const port = Number(Deno.env.get("PORT") ?? 8100);
const body = "hello world";
Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, () => new Response(body));

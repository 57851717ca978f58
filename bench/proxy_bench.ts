/**
 * The forwarding path's own cost, without the network: the Forwarder and header rewriting around
 * a fake origin that answers at once. Run: deno bench -A bench/proxy_bench.ts
 */

import { ManualClock } from "../lib/core/clock.ts";
import { silentLogger } from "../lib/core/log.ts";
import { OriginHealth } from "../lib/features/proxy/breaker.ts";
import { Forwarder } from "../lib/features/proxy/forward.ts";
import { downstreamHeaders, upstreamHeaders } from "../lib/features/proxy/headers.ts";

const body = JSON.stringify({ ok: true, pad: "x".repeat(300) });
const upstreamResponseHeaders = new Headers({
  "content-type": "application/json",
  "cache-control": "no-store",
  etag: '"abc"',
  date: new Date(0).toUTCString(),
  "content-length": String(body.length),
});
const fakeFetch =
  (() => Promise.resolve(new Response(body, { headers: upstreamResponseHeaders }))) as typeof fetch;
const clock = new ManualClock();
const forwarder = new Forwarder({
  fetch: fakeFetch,
  health: new OriginHealth({ failureThreshold: 3, cooldownMs: 1000, clock }),
  clock,
  log: silentLogger,
  timeoutMs: 10_000,
  bodyTimeoutMs: 300_000,
  maxAttempts: 3,
  retryBodyLimitBytes: 1 << 20,
});
const targets = [{ name: "us-east", origin: "http://127.0.0.1:1" }];
const clientHeaders = {
  host: "edge.example",
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36",
  accept: "application/json",
  "accept-language": "en-GB,en;q=0.9",
  "accept-encoding": "gzip, deflate, br",
  cookie: "variant=A; session=abc123",
  connection: "keep-alive",
};
const request = () => new Request("http://edge.example/api/echo?x=1", { headers: clientHeaders });
const info = {
  peerIp: "127.0.0.1",
  peerTrusted: true,
  host: "edge.example",
  proto: "http" as const,
  via: "outpost-us-east",
  requestId: "abc-1",
  extra: { "X-Variant": "A" },
};

Deno.bench("new Request (baseline)", { baseline: true }, () => {
  request();
});
Deno.bench("upstreamHeaders()", () => {
  upstreamHeaders(request().headers, info);
});
Deno.bench("downstreamHeaders()", () => {
  downstreamHeaders(upstreamResponseHeaders);
});
Deno.bench("Forwarder.forward() with a fake origin", async () => {
  const req = request();
  const result = await forwarder.forward(req, targets, {
    pathAndQuery: "/api/echo?x=1",
    headers: upstreamHeaders(req.headers, info),
  });
  await result.response.arrayBuffer();
});

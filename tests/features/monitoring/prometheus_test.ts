import assert from "node:assert/strict";
import { renderPrometheus } from "../../../lib/features/monitoring/prometheus.ts";
import { MetricsRegistry } from "../../../lib/core/metrics.ts";
import { get, makeConfig, startEdge, startOrigin } from "../../helpers.ts";
import { type ParsedFamily, parsePrometheus, type Sample } from "./prometheus_parser.ts";

function find(
  f: ParsedFamily | undefined,
  labels: Record<string, string>,
  name?: string,
): Sample[] {
  assert.ok(f, "family missing");
  return f.samples.filter((s) =>
    (name === undefined || s.name === name) &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
}

/** Checks the histogram rules a scraper relies on, for every series of `f`. */
function assertHistogram(f: ParsedFamily): void {
  const series = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`)!.value;
    const sum = samples.find((s) => s.name === `${f.name}_sum`)!.value;
    assert.ok(buckets.length >= 2);
    const les = buckets.map((b) => Number(b.labels.le === "+Inf" ? Infinity : b.labels.le));
    assert.deepEqual(les, [...les].sort((a, b) => a - b), "le ascending");
    assert.equal(les.at(-1), Infinity);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
    assert.equal(buckets.at(-1)!.value, count, "+Inf equals _count");
    assert.ok(sum >= 0);
  }
}

Deno.test("renderPrometheus() writes parseable text with escapes and const labels", () => {
  const m = new MetricsRegistry();
  m.counter("outpost_things_total", 'Things with "quotes" and \\ backslash\nnewline')
    .inc({ kind: 'a"b\\c\nd' }, 3);
  m.gauge("outpost_level", "Level").set(0.25);
  const h = m.histogram("outpost_wait_seconds", "Waits");
  h.record(3, { route: "api" });
  h.record(700, { route: "api" });
  const families = parsePrometheus(renderPrometheus(m, { region: "eu-west" }));
  const things = families.get("outpost_things_total")!;
  assert.equal(things.type, "counter");
  assert.deepEqual(things.samples[0].labels, { kind: 'a"b\\c\nd', region: "eu-west" });
  assert.equal(things.samples[0].value, 3);
  assert.equal(families.get("outpost_level")!.samples[0].value, 0.25);
  const wait = families.get("outpost_wait_seconds")!;
  assert.equal(wait.type, "histogram");
  assertHistogram(wait);
  const le = (v: string) => find(wait, { le: v }, "outpost_wait_seconds_bucket")[0].value;
  assert.equal(le("0.0025"), 0);
  assert.equal(le("0.005"), 1);
  assert.equal(le("0.5"), 1);
  assert.equal(le("1"), 2);
  assert.ok(Math.abs(find(wait, {}, "outpost_wait_seconds_sum")[0].value - 0.703) < 1e-9);
});

Deno.test("GET /_edge/metrics exposes requests, errors, denials, latencies and other areas", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  for (let i = 0; i < 4; i++) await get(`${e.url}/api/echo`);
  for (const s of [401, 403, 429, 500]) await get(`${e.url}/status/${s}`);
  await get(`${e.url}/_edge/nope`);
  const { res, text } = await get(`${e.url}/_edge/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const families = parsePrometheus(text);

  const requests = families.get("outpost_http_requests_total");
  assert.equal(requests?.type, "counter");
  assert.equal(find(requests, { route: "api", cache: "none", status: "2xx" })[0].value, 4);
  assert.equal(find(requests, { route: "cache", status: "4xx" })[0].value, 3);
  for (const s of requests!.samples) assert.equal(s.labels.region, "us-east");

  const errors = families.get("outpost_http_server_errors_total");
  assert.equal(find(errors, { route: "cache", source: "origin" })[0].value, 1);
  const denied = families.get("outpost_http_denied_total");
  for (const status of ["401", "403", "429"]) {
    assert.equal(find(denied, { route: "cache", status })[0].value, 1, status);
  }

  const latency = families.get("outpost_http_request_duration_seconds")!;
  assert.equal(latency.type, "histogram");
  assertHistogram(latency);
  const apiCount = find(
    latency,
    { route: "api", cache: "none", region: "us-east" },
    `${latency.name}_count`,
  );
  assert.equal(apiCount[0].value, 4);

  const upstream = families.get("outpost_origin_response_duration_seconds")!;
  assertHistogram(upstream);
  assert.equal(find(upstream, { upstream: "us-east" }, `${upstream.name}_count`)[0].value, 8);

  // What other areas registered is there too, with TYPE and HELP.
  const attempts = families.get("outpost_origin_attempts_total");
  assert.equal(attempts?.type, "counter");
  assert.ok(attempts!.help.length > 0);
  assert.equal(families.get("outpost_health_up")?.type, "gauge");
});

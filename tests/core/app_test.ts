import assert from "node:assert/strict";
import { deadOrigin, get, makeConfig, rawHttp, startEdge, startOrigin } from "../helpers.ts";

const TOKYO = { "x-user-lat": "35.6762", "x-user-lon": "139.6503" };
const PARIS = { "x-user-lat": "48.8566", "x-user-lon": "2.3522" };

Deno.test("createApp() stamps node identity on every response", async (t) => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  await t.step("edge endpoint", async () => {
    const { res } = await get(`${e.url}/_edge/health`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-served-by"), "us-east");
    assert.match(res.headers.get("server-timing") ?? "", /^edge;dur=[\d.]+$/);
    assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f]{12}-[0-9a-z]+$/);
  });
  await t.step("proxied response and errors too", async () => {
    for (const path of ["/api/echo", "/_edge/nope", "/status/500"]) {
      const { res } = await get(`${e.url}${path}`);
      assert.equal(res.headers.get("x-served-by"), "us-east", path);
      assert.ok(res.headers.get("server-timing"), path);
    }
  });
  await t.step("a valid client request id is kept, a malformed one replaced", async () => {
    const kept = await get(`${e.url}/_edge/health`, { headers: { "x-request-id": "abc-123.x:y" } });
    assert.equal(kept.res.headers.get("x-request-id"), "abc-123.x:y");
    const replaced = await get(`${e.url}/_edge/health`, {
      headers: { "x-request-id": "bad id<script>" },
    });
    assert.notEqual(replaced.res.headers.get("x-request-id"), "bad id<script>");
  });
  await t.step("the request id reaches the origin", async () => {
    const { body } = await get(`${e.url}/api/echo`, { headers: { "x-request-id": "trace-42" } });
    assert.equal((body as { headers: Record<string, string> }).headers["x-request-id"], "trace-42");
  });
});

Deno.test("GET /_edge/whereami locates the caller", async (t) => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  await t.step("X-User-Lat/Lon from a trusted peer", async () => {
    const { body } = await get(`${e.url}/_edge/whereami`, { headers: TOKYO });
    const geo = body as Record<string, unknown>;
    assert.equal(geo.source, "user-headers");
    assert.equal(geo.nearestRegion, "ap-southeast");
    assert.ok(Math.abs((geo.distanceKm as number) - 5320) < 50, String(geo.distanceKm));
  });
  await t.step("CDN country header", async () => {
    const { body } = await get(`${e.url}/_edge/whereami`, { headers: { "cf-ipcountry": "FR" } });
    assert.equal((body as Record<string, unknown>).source, "cloudflare");
    assert.equal((body as Record<string, unknown>).country, "FR");
    assert.equal((body as Record<string, unknown>).nearestRegion, "eu-west");
  });
  await t.step("malformed values fall through to the default", async () => {
    for (
      const [lat, lon] of [["abc", "1"], ["NaN", "1"], ["91", "0"], ["1e999", "0"], ["", ""], [
        "10",
        "181",
      ]]
    ) {
      const { res, body } = await get(`${e.url}/_edge/whereami`, {
        headers: { "x-user-lat": lat, "x-user-lon": lon },
      });
      assert.equal(res.status, 200);
      assert.equal((body as Record<string, unknown>).source, "default", `${lat},${lon}`);
      assert.equal((body as Record<string, unknown>).nearestRegion, "us-east");
    }
  });
});

Deno.test("GET /_edge/whereami ignores location headers from untrusted peers", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url, { trustedProxies: [] }));
  const { body } = await get(`${e.url}/_edge/whereami`, {
    headers: { ...TOKYO, "cf-ipcountry": "JP" },
  });
  assert.equal((body as Record<string, unknown>).source, "default");
  assert.equal((body as Record<string, unknown>).nearestRegion, "us-east");
});

Deno.test("/api/* is forwarded to the nearest origin with forwarding headers", async () => {
  await using tokyoOrigin = startOrigin("ap");
  await using euOrigin = startOrigin("eu");
  await using e = await startEdge(
    makeConfig({ "ap-southeast": tokyoOrigin.url, "eu-west": euOrigin.url }),
  );
  const fromTokyo = await get(`${e.url}/api/echo?q=1&x=%20y`, {
    headers: { ...TOKYO, "x-forwarded-proto": "https" },
  });
  assert.equal(fromTokyo.res.status, 200);
  assert.equal(fromTokyo.res.headers.get("x-upstream-region"), "ap-southeast");
  const echo = fromTokyo.body as {
    path: string;
    query: Record<string, string>;
    headers: Record<string, string>;
    origin: string;
  };
  assert.equal(echo.origin, "ap");
  assert.equal(echo.path, "/api/echo");
  assert.deepEqual(echo.query, { q: "1", x: " y" });
  assert.equal(echo.headers["x-forwarded-for"], "127.0.0.1");
  assert.equal(echo.headers["x-forwarded-proto"], "https");
  assert.equal(echo.headers["x-forwarded-host"], new URL(e.url).host);
  assert.match(echo.headers["via"], /outpost-us-east/);
  assert.match(
    fromTokyo.res.headers.get("server-timing") ?? "",
    /origin;dur=[\d.]+;desc="ap-southeast"/,
  );

  const fromParis = await get(`${e.url}/api/echo`, { headers: PARIS });
  assert.equal(fromParis.res.headers.get("x-upstream-region"), "eu-west");
  assert.equal(tokyoOrigin.count("/api/echo"), 1);
  assert.equal(euOrigin.count("/api/echo"), 1);
});

Deno.test("A/B testing assigns, remembers and tells the origin", async (t) => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  await t.step("a new client gets a variant cookie and the origin sees X-Variant", async () => {
    const { res, body } = await get(`${e.url}/api/echo`);
    const cookie = res.headers.get("set-cookie") ?? "";
    const m = /^variant=(A|B); Path=\/; Max-Age=2592000; SameSite=Lax$/.exec(cookie);
    assert.ok(m, cookie);
    assert.equal((body as { headers: Record<string, string> }).headers["x-variant"], m[1]);
  });
  await t.step("the assignment is deterministic for one client", async () => {
    const a = await get(`${e.url}/api/echo`);
    const b = await get(`${e.url}/api/echo`);
    assert.equal(a.res.headers.get("set-cookie"), b.res.headers.get("set-cookie"));
  });
  await t.step("a valid cookie is sticky and not set again", async () => {
    for (const v of ["A", "B"]) {
      const { res, body } = await get(`${e.url}/api/echo`, {
        headers: { cookie: `x=1; variant=${v}` },
      });
      assert.equal(res.headers.get("set-cookie"), null);
      assert.equal((body as { headers: Record<string, string> }).headers["x-variant"], v);
    }
  });
  await t.step("a malformed cookie is treated as absent", async () => {
    for (
      const cookie of [
        "variant=C",
        "variant=",
        "variant=a",
        "variant=A B",
        `variant=${"A".repeat(5000)}`,
      ]
    ) {
      const { res } = await get(`${e.url}/api/echo`, { headers: { cookie } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("set-cookie") ?? "", /^variant=(A|B);/, cookie);
    }
  });
  await t.step("Secure is added when the client used https", async () => {
    const { res } = await get(`${e.url}/api/echo`, { headers: { "x-forwarded-proto": "https" } });
    assert.match(res.headers.get("set-cookie") ?? "", /; Secure$/);
  });
  await t.step("paths outside the experiment are untouched", async () => {
    const { res, body } = await get(`${e.url}/users/7`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("set-cookie"), null);
    assert.equal((body as { id: string }).id, "7");
  });
});

Deno.test("A/B testing hashes a configured id header instead of the IP", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url, {
    experiments: [{
      name: "checkout",
      idHeader: "X-Client-Id",
      variants: [{ name: "old", weight: 1 }, { name: "new", weight: 1 }],
    }],
  }));
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const { res } = await get(`${e.url}/api/echo`, { headers: { "x-client-id": `user-${i}` } });
    seen.add(/^variant=(\w+)/.exec(res.headers.get("set-cookie") ?? "")![1]);
  }
  assert.deepEqual([...seen].sort(), ["new", "old"]);
});

Deno.test("the edge fails over to the next-nearest origin", async (t) => {
  await t.step("nearest origin refuses connections", async () => {
    await using eu = startOrigin("eu");
    await using e = await startEdge(
      makeConfig({ "ap-southeast": deadOrigin(), "us-west": deadOrigin(), "eu-west": eu.url }),
    );
    const { res, body } = await get(`${e.url}/api/echo`, { headers: TOKYO });
    assert.equal(res.status, 200);
    // Tokyo: ap-southeast (dead), us-west (dead), then eu-west (third nearest, max 3 attempts).
    assert.equal(res.headers.get("x-upstream-region"), "eu-west");
    assert.equal((body as { origin: string }).origin, "eu");
  });
  await t.step("nearest origin answers 503 to an idempotent request", async () => {
    await using ap = startOrigin("ap");
    await using west = startOrigin("west");
    ap.demo.setDown(true);
    await using e = await startEdge(makeConfig({ "ap-southeast": ap.url, "us-west": west.url }));
    const { res } = await get(`${e.url}/api/echo`, { headers: TOKYO });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-upstream-region"), "us-west");
    assert.equal(ap.count("/api/echo"), 1);
  });
  await t.step("a PUT body is replayed to the next origin", async () => {
    await using ap = startOrigin("ap");
    await using west = startOrigin("west");
    ap.demo.setDown(true);
    await using e = await startEdge(makeConfig({ "ap-southeast": ap.url, "us-west": west.url }));
    const { res, body } = await get(`${e.url}/api/echo`, {
      method: "PUT",
      headers: TOKYO,
      body: "payload",
    });
    assert.equal(res.headers.get("x-upstream-region"), "us-west");
    assert.equal((body as { body: string }).body, "payload");
  });
  await t.step("a POST is not retried: the origin's 503 is passed through", async () => {
    await using ap = startOrigin("ap");
    await using west = startOrigin("west");
    ap.demo.setDown(true);
    await using e = await startEdge(makeConfig({ "ap-southeast": ap.url, "us-west": west.url }));
    const { res } = await get(`${e.url}/api/echo`, { method: "POST", headers: TOKYO, body: "x" });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-upstream-region"), "ap-southeast");
    assert.equal(west.count("/api/echo"), 0);
  });
});

Deno.test("the circuit breaker keeps an unreachable origin out for its cool-down", async () => {
  await using west = startOrigin("west");
  const ap = deadOrigin();
  await using e = await startEdge(makeConfig({ "ap-southeast": ap, "us-west": west.url }));
  for (let i = 0; i < 5; i++) {
    const { res, body } = await get(`${e.url}/api/echo?i=${i}`, { headers: TOKYO });
    assert.equal(res.headers.get("x-upstream-region"), "us-west");
    assert.equal((body as { origin: string }).origin, "west");
  }
  const attempts = e.edge.metrics.counter("outpost_origin_attempts_total", "");
  assert.equal(
    attempts.get({ region: "ap-southeast", outcome: "network_error" }),
    3,
    "opened after 3 refused connections; not tried again during the cool-down",
  );
  const { body } = await get(`${e.url}/_edge/health`);
  const origins = (body as { origins: Record<string, { state: string }> }).origins;
  assert.equal(origins["ap-southeast"].state, "open", "named by its region, not its address");
  assert.doesNotMatch(JSON.stringify(origins), /127\.0\.0\.1|lastError/);
  e.clock.advance(10_000);
  await get(`${e.url}/api/echo`, { headers: TOKYO });
  assert.equal(
    attempts.get({ region: "ap-southeast", outcome: "network_error" }),
    4,
    "one trial after the cool-down",
  );
});

Deno.test("an origin answering 503 stays in rotation unless statuses are counted", async (t) => {
  await t.step("default: every request goes to the nearest origin first", async () => {
    await using ap = startOrigin("ap");
    await using west = startOrigin("west");
    ap.demo.setDown(true);
    await using e = await startEdge(makeConfig({ "ap-southeast": ap.url, "us-west": west.url }));
    for (let i = 0; i < 5; i++) {
      const { res } = await get(`${e.url}/api/echo`, { headers: TOKYO });
      assert.equal(res.headers.get("x-upstream-region"), "us-west", "the retry served it");
    }
    assert.equal(ap.count("/api/echo"), 5, "tried every time: answering is not failing");
  });
  await t.step(
    "countStatuses: out for that path group after 3, other groups still go",
    async () => {
      await using ap = startOrigin("ap");
      await using west = startOrigin("west");
      ap.demo.setDown(true);
      await using e = await startEdge(
        makeConfig({ "ap-southeast": ap.url, "us-west": west.url }, {
          proxy: { breaker: { countStatuses: [503] } },
        }),
      );
      for (let i = 0; i < 5; i++) await get(`${e.url}/api/echo`, { headers: TOKYO });
      assert.equal(ap.count("/api/echo"), 3, "the /api group opened after 3");
      const { body } = await get(`${e.url}/_edge/health`);
      const ap1 = (body as { origins: Record<string, { state: string; paths: object }> })
        .origins["ap-southeast"];
      assert.equal(ap1.state, "closed");
      assert.deepEqual(Object.keys(ap1.paths), ["/api"]);
      ap.demo.setDown(false);
      const other = await get(`${e.url}/cacheable/other`, { headers: TOKYO });
      assert.equal(other.res.headers.get("x-upstream-region"), "ap-southeast");
      e.clock.advance(10_000);
      const trial = await get(`${e.url}/api/echo`, { headers: TOKYO });
      assert.equal(trial.res.headers.get("x-upstream-region"), "ap-southeast");
      assert.equal(ap.count("/api/echo"), 4);
    },
  );
});

Deno.test("the edge answers problem+json when no origin can serve", async (t) => {
  await t.step("every origin refuses: 502", async () => {
    await using e = await startEdge(makeConfig({}));
    const { res, body } = await get(`${e.url}/api/echo`);
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const p = body as { code: string; attempts: unknown[]; request_id: string };
    assert.equal(p.code, "origin_unreachable");
    assert.equal(p.attempts.length, 3);
    assert.equal(p.request_id, res.headers.get("x-request-id"));
  });
  await t.step("all breakers open: still tried (never refused by the edge itself)", async () => {
    await using e = await startEdge(
      makeConfig({}, { proxy: { maxAttempts: 4, breaker: { failureThreshold: 1 } } }),
    );
    await get(`${e.url}/api/echo`);
    const { res, body } = await get(`${e.url}/api/echo`);
    assert.equal(res.status, 502);
    assert.equal((body as { attempts: unknown[] }).attempts.length, 4);
  });
  await t.step("an origin that hangs: 504 after the timeout", async () => {
    await using origin = startOrigin();
    await using e = await startEdge(
      makeConfig({ "us-east": origin.url }, { proxy: { timeoutMs: 150, maxAttempts: 1 } }),
    );
    const { res, body } = await get(`${e.url}/faults/hang`);
    assert.equal(res.status, 504);
    assert.equal((body as { code: string }).code, "origin_timeout");
  });
});

Deno.test("an origin that resets mid-body does not take the edge down", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  const res = await fetch(`${e.url}/faults/broken-body`);
  assert.equal(res.status, 200);
  await assert.rejects(() => res.text());
  const after = await get(`${e.url}/api/echo`);
  assert.equal(after.res.status, 200);
});

Deno.test("the edge refuses what it must not forward", async (t) => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  await t.step("unknown /_edge path: 404 problem", async () => {
    const { res, body } = await get(`${e.url}/_edge/does-not-exist`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.equal((body as { status: number }).status, 404);
    assert.equal(origin.count("/_edge/does-not-exist"), 0);
  });
  await t.step("TRACE: 405", async () => {
    const raw = await rawHttp(
      e.url,
      "TRACE /api/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 405 /);
    assert.match(raw, /application\/problem\+json/);
    assert.equal(origin.count("/api/echo"), 0);
  });
  await t.step("CONNECT: never a tunnel", async () => {
    const raw = await rawHttp(
      e.url,
      "CONNECT 169.254.169.254:443 HTTP/1.1\r\nHost: 169.254.169.254:443\r\nConnection: close\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 405 /);
    assert.match(raw, /application\/problem\+json/);
    assert.match(raw, /allow: GET, HEAD/i);
  });
  await t.step("an extension method is forwarded to the origin", async () => {
    const { res, body } = await get(`${e.url}/api/echo`, { method: "M-SEARCH" });
    assert.equal(res.status, 200);
    assert.equal((body as { method: string }).method, "M-SEARCH");
  });
  await t.step("a request that already looped through Outpost: 508", async () => {
    const via = Array.from({ length: 4 }, (_, i) => `1.1 outpost-r${i}`).join(", ");
    const { res } = await get(`${e.url}/api/echo`, { headers: { via } });
    assert.equal(res.status, 508);
  });
  await t.step("neither Host nor an absolute-form target picks the origin", async () => {
    for (const target of ["/api/echo", "http://169.254.169.254/api/echo"]) {
      const raw = await rawHttp(
        e.url,
        `GET ${target} HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n`,
      );
      assert.match(raw, /^HTTP\/1\.1 200 /, target);
      assert.match(raw, /"origin":"demo"/, target);
    }
  });
});

Deno.test("bad input never makes a 5xx", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  const nasty: Record<string, string>[] = [
    { cookie: "variant=" + "B".repeat(7000) },
    { cookie: ";;;===;;variant" },
    { "x-user-lat": "1".repeat(5000), "x-user-lon": "2" },
    { "x-user-lat": "-0", "x-user-lon": "0x10" },
    { "x-forwarded-for": "999.1.1.1, ::::, " + "x".repeat(3000) },
    { "cf-ipcountry": "ZZZ" },
    { "x-vercel-ip-latitude": "Infinity", "x-vercel-ip-longitude": "-Infinity" },
    { "x-request-id": "x".repeat(1000) },
    { "x-big": "v".repeat(16_000) },
  ];
  for (const headers of nasty) {
    for (const path of ["/_edge/whereami", "/api/echo"]) {
      const { res } = await get(`${e.url}${path}`, { headers });
      assert.ok(res.status < 500, `${path} ${JSON.stringify(headers).slice(0, 80)}: ${res.status}`);
    }
  }
});

Deno.test("a large streamed body passes through both ways", async () => {
  await using origin = startOrigin();
  await using e = await startEdge(makeConfig(origin.url));
  const payload = "z".repeat(3 * 1024 * 1024);
  const { body } = await get(`${e.url}/api/echo`, { method: "POST", body: payload });
  assert.equal((body as { body_bytes: number }).body_bytes, payload.length);
  const big = await fetch(`${e.url}/cacheable/big?size=5000000`);
  assert.equal((await big.arrayBuffer()).byteLength, 5_000_000);
});

Deno.test("origin attempts are counted per region and outcome", async () => {
  await using ap = startOrigin("ap");
  await using e = await startEdge(makeConfig({ "ap-southeast": ap.url }));
  await get(`${e.url}/api/echo`, { headers: TOKYO });
  ap.demo.setDown(true);
  await get(`${e.url}/api/echo`, { headers: TOKYO });
  const attempts = e.edge.metrics.counter("outpost_origin_attempts_total", "");
  assert.equal(attempts.get({ region: "ap-southeast", outcome: "ok" }), 1);
  assert.equal(attempts.get({ region: "ap-southeast", outcome: "bad_gateway_status" }), 1);
});

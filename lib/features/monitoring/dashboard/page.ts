/** The dashboard's HTML shell; the charts and data come from the bundled script. */

/** The page, referring to the bundle's script and stylesheet by content hash. */
export function dashboardHtml(region: string, hash: string): string {
  const r = region.replace(/[^a-z0-9-]/g, "");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Outpost · edge monitor</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='6' fill='%232563eb'/%3E%3C/svg%3E">
<link rel="stylesheet" href="/_edge/dashboard/app.css?v=${hash}">
<script type="module" src="/_edge/dashboard/app.js?v=${hash}"></script>
</head>
<body data-state="loading">
<header>
  <h1>Outpost <span>· edge monitor</span></h1>
  <span id="status" class="pill idle">Loading…</span>
  <div class="meta"><span>served by ${r}</span><span id="window"></span><span id="interval"></span><span id="updated"></span><button id="signout" type="button" hidden>Sign out</button></div>
</header>
<main>
  <div id="error" role="alert" hidden></div>
  <section id="signin-panel" class="panel signin" aria-label="Sign in" hidden>
    <form id="signin" autocomplete="on">
      <h2>Sign in</h2>
      <p id="signin-why" class="sub">This node's statistics need its operator token (<code>ADMIN_TOKEN</code>).</p>
      <input type="text" name="username" value="outpost-admin" autocomplete="username" hidden>
      <label for="token">Admin token</label>
      <div class="row"><input id="token" name="token" type="password" required autocomplete="current-password" spellcheck="false"><button type="submit">Sign in</button></div>
      <p id="signin-error" class="form-error" role="alert" hidden></p>
      <p class="sub">The token stays in this tab (session storage) and goes to the node as an <code>Authorization: Bearer</code> header, never in a URL, where it would reach logs and browser history.</p>
    </form>
  </section>
  <div class="live">
  <p id="getting-started" class="notice" hidden></p>
  <section class="kpis" aria-label="Key figures">
    <div class="kpi"><div class="label">Requests / s</div><div class="value" id="kpi-rps">–</div><div class="hint">all edges, last minute</div></div>
    <div class="kpi"><div class="label">p50 latency</div><div class="value" id="kpi-p50">–</div><div class="hint">merged, sliding window</div></div>
    <div class="kpi"><div class="label">p99 latency</div><div class="value" id="kpi-p99">–</div><div class="hint">merged, sliding window</div></div>
    <div class="kpi"><div class="label">Error rate</div><div class="value" id="kpi-errors">–</div><div class="hint">5xx share, sliding window</div></div>
    <div class="kpi"><div class="label">Cache hit rate</div><div class="value" id="kpi-hit">–</div><div class="hint">hits / cacheable lookups</div></div>
    <div class="kpi"><div class="label">Total requests</div><div class="value" id="kpi-total">–</div><div class="hint">live edges since start</div></div>
  </section>
  <section class="grid">
    <div class="panel"><h2>Requests per second</h2><p class="sub">per region, in <span class="slot">10 s</span> slots</p><div class="chart" id="chart-rps"></div></div>
    <div class="panel"><h2>Latency</h2><p class="sub">p99 (bold) and p50 (faint) per region and <span class="slot">10 s</span> slot, time to response headers</p><div class="chart" id="chart-latency"></div></div>
    <div class="panel"><h2>Error rate</h2><p class="sub">share of 5xx answers per region and <span class="slot">10 s</span> slot</p><div class="chart" id="chart-errors"></div></div>
    <div class="panel"><h2>Cache hit rate</h2><p class="sub">hits over cacheable lookups per region and <span class="slot">10 s</span> slot</p><div class="chart" id="chart-hit"></div></div>
  </section>
  <section class="panel" aria-label="Edges">
    <h2>Edges</h2><p class="sub">every live node's latest snapshot</p>
    <div class="table-wrap"><table class="edges-table">
      <thead><tr><th>Health</th><th>Region</th><th>Node</th><th class="num">Req/s</th><th class="num">p50</th><th class="num">p99</th><th class="num">Errors</th><th class="num">Cache hits</th><th class="num">Uptime</th><th class="num">Reported</th><th>Reasons</th></tr></thead>
      <tbody id="edges"></tbody>
    </table></div>
  </section>
  <section class="panel spaced" aria-label="Analytics">
    <h2>Analytics events</h2><p class="sub">events per second per <span class="slot">10 s</span> slot, every edge (from <code>outpost_analytics_*events*</code> counters); <span id="events-total">no events accepted yet</span></p>
    <div class="chart" id="chart-analytics"></div>
  </section>
  </div>
  <footer><span id="skipped"></span><a href="/_edge/health">/_edge/health</a><a href="/_edge/docs">API docs</a><span>/_edge/stats and /_edge/metrics take the token as a bearer header</span></footer>
</main>
</body>
</html>
`;
}

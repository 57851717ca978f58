import assert from "node:assert/strict";
import { attribute, type CpuProfile, forwardProfileMarkdown } from "../../bench/forward_profile.ts";

const ROOT = "file:///repo/";

/** A profile whose samples are given as stacks (leaf first), one every `stepUs`. */
function profile(stacks: Array<Array<[string, string]>>, stepUs = 100): CpuProfile {
  const nodes: CpuProfile["nodes"] = [{
    id: 1,
    callFrame: { functionName: "(root)", url: "", lineNumber: -1 },
    children: [],
  }];
  const samples: number[] = [];
  for (const stack of stacks) {
    let parent = nodes[0];
    for (const [functionName, url] of [...stack].reverse()) {
      let child = (parent.children ?? []).map((id) => nodes.find((n) => n.id === id)!)
        .find((n) => n.callFrame.functionName === functionName && n.callFrame.url === url);
      if (!child) {
        child = {
          id: nodes.length + 1,
          callFrame: { functionName, url, lineNumber: 9 },
          children: [],
        };
        nodes.push(child);
        parent.children!.push(child.id);
      }
      parent = child;
    }
    samples.push(parent.id);
  }
  return {
    nodes,
    startTime: 0,
    endTime: stacks.length * stepUs,
    samples,
    timeDeltas: samples.map(() => stepUs),
  };
}

const serve: [string, string] = ["nativeDispatch", "ext:deno_http/00_serve.ts"];
const appFetch: [string, string] = ["handle", `${ROOT}lib/core/pipeline.ts`];
const globalFetch: [string, string] = ["fetch", "ext:deno_fetch/26_fetch.js"];

Deno.test("attribute() puts each sample in the window into one part, by what is on its stack", () => {
  const p = profile([
    [globalFetch, appFetch, serve], // fetch, even when called from the product
    [["canonicalTarget", `${ROOT}lib/platform/http/target.ts`], appFetch, serve],
    [["get", "ext:deno_fetch/20_headers.js"], appFetch, serve], // a built-in the product calls
    [["handler", `${ROOT}bench/servers/min_proxy.ts`], serve], // the benchmark's own server
    [serve],
    [["(garbage collector)", ""]],
    [["(program)", ""]],
    [["(idle)", ""]],
    [["runMicrotasks", "ext:core/01_core.js"]],
  ]);
  const a = attribute(p, { fromUs: 0, toUs: 10_000 }, ROOT);
  assert.deepEqual(a.byPart, {
    "fetch to the origin": 100,
    "Outpost's own code": 200,
    "the proxy's handler": 100,
    "Deno.serve (HTTP server)": 100,
    "garbage collection": 100,
    "V8 and runtime (program)": 100,
    // The last sample stands for no time (nothing follows it).
    "other (streams, promise jobs, timers)": 0,
  });
  assert.equal(a.idleUs, 100);
  assert.deepEqual([...a.byFrame], [["canonicalTarget lib/platform/http/target.ts:10", 100], [
    "handle lib/core/pipeline.ts:10",
    100,
  ]]);
});

Deno.test("attribute() leaves out samples outside the window (start-up, shutdown)", () => {
  const p = profile([[appFetch], [appFetch], [appFetch], [appFetch], [appFetch]]);
  // Samples at 100, 200, 300, 400, 500 µs: the window takes 200–400.
  const a = attribute(p, { fromUs: 200, toUs: 400 }, ROOT);
  assert.equal(a.byPart["Outpost's own code"], 300);
});

Deno.test("the Markdown shows every part for every target and the busy total", () => {
  const parts = {
    "fetch to the origin": 30,
    "Outpost's own code": 20,
    "the proxy's handler": 0,
    "Deno.serve (HTTP server)": 10,
    "garbage collection": 5,
    "V8 and runtime (program)": 4,
    "other (streams, promise jobs, timers)": 1,
  };
  const md = forwardProfileMarkdown([{
    name: "Outpost uncacheable GET",
    requests: 1000,
    requestsPerSec: 500,
    perRequestUs: parts,
    busyUs: 70,
    topFrames: [{ frame: "handle lib/core/pipeline.ts:10", us: 12.345 }],
  }]);
  assert.match(md, /\| fetch to the origin \| 30\.0 \|/);
  assert.match(md, /\| \*\*busy, all parts\*\* \| \*\*70\.0\*\* \|/);
  assert.match(md, /\| `handle lib\/core\/pipeline\.ts:10` \| 12\.35 \|/);
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { LRUCache as PackageLru } from "lru-cache";
import packageGeodesic from "geographiclib-geodesic";
import { vendoredFiles } from "../../tools/build_vendor.ts";
import { LRUCache } from "../../lib/platform/vendor/lru_cache.ts";
import geodesic from "../../lib/platform/vendor/geodesic.ts";

Deno.test("the vendored copies are those of the pinned packages (else: deno task vendor)", async () => {
  for (const [name, text] of await vendoredFiles()) {
    const committed = await Deno.readTextFile(
      new URL(`../../lib/platform/vendor/${name}`, import.meta.url),
    );
    assert.ok(committed === text, `lib/platform/vendor/${name} is stale: run deno task vendor`);
  }
});

type Op =
  | { op: "set"; key: number; size: number }
  | { op: "get" | "peek" | "delete"; key: number }
  | { op: "clear" };

Deno.test("the vendored LRUCache behaves as the package's, sizes and disposals included", () => {
  const key = fc.integer({ min: 0, max: 12 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant("set" as const), key, size: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ op: fc.constantFrom("get" as const, "peek" as const, "delete" as const), key }),
    fc.constant({ op: "clear" as const }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
    const runs = [PackageLru, LRUCache].map((Lru) => {
      const log: string[] = [];
      const lru = new Lru<number, { size: number }>({
        max: 8,
        maxSize: 100,
        maxEntrySize: 30,
        sizeCalculation: (v) => v.size,
        dispose: (v, k, reason) => log.push(`dispose ${k} ${v.size} ${reason}`),
      });
      for (const o of ops) {
        if (o.op === "set") lru.set(o.key, { size: o.size });
        else if (o.op === "clear") lru.clear();
        else log.push(`${o.op} ${o.key} ${JSON.stringify(lru[o.op](o.key))}`);
        log.push(`size ${lru.size} ${lru.calculatedSize} ${[...lru.keys()].join(",")}`);
      }
      return log;
    });
    assert.deepEqual(runs[1], runs[0]);
  }));
});

Deno.test("the vendored geodesic gives the package's distances", () => {
  const lat = fc.double({ min: -90, max: 90, noNaN: true });
  const lon = fc.double({ min: -180, max: 180, noNaN: true });
  fc.assert(fc.property(lat, lon, lat, lon, (a, b, c, d) => {
    const mask = geodesic.Geodesic.DISTANCE;
    const ours = geodesic.Geodesic.WGS84.Inverse(a, b, c, d, mask).s12;
    const theirs = packageGeodesic.Geodesic.WGS84.Inverse(a, b, c, d, mask).s12;
    assert.ok(Object.is(ours, theirs), `${ours} ≠ ${theirs}`);
  }));
});

/**
 * `geographiclib-geodesic`, from the ES module copy of its UMD script in geodesic.gen.js (Deno
 * loads the package as CommonJS, through the Node compatibility layer, at start-up; see
 * tools/build_vendor.ts), typed by the package's own declarations.
 */

import type * as Typed from "geographiclib-geodesic";
import built from "./geodesic.gen.js";

/** See the `geographiclib-geodesic` package. */
const geodesic = built as unknown as typeof Typed;
export default geodesic;

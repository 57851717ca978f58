/** Methods the edge never forwards, and the 405 that refuses them. */

import { HttpError } from "./errors.ts";

/** Methods never forwarded: tunnels and request echo have no business passing an edge. */
export const REFUSED_METHODS: ReadonlySet<string> = new Set(["CONNECT", "TRACE", "TRACK"]);
/** Listed in `Allow` when a method is refused (extension methods are forwarded too). */
export const ALLOW = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/** The 405 of a method never forwarded. */
export function methodRefused(method: string): HttpError {
  return new HttpError(405, `Method not forwarded: ${method.slice(0, 20)}`, {
    code: "method_not_allowed",
    headers: { allow: ALLOW },
  });
}

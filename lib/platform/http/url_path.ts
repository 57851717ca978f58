/**
 * The path of an absolute request URL (`Request.url`), found without parsing the URL: these run
 * on every request (routing before Hono, route groups for metrics, cache paths).
 */

/** The path's offset in an absolute request URL (`-1` for an empty path). */
export function pathStart(url: string): number {
  return url.indexOf("/", url.indexOf("//") + 2);
}

/** The path of a raw request URL (`http://host/path?q` → `/path`). */
export function pathOf(rawUrl: string): string {
  const start = pathStart(rawUrl);
  if (start < 0) return "/";
  const q = rawUrl.indexOf("?", start);
  return q < 0 ? rawUrl.slice(start) : rawUrl.slice(start, q);
}

/** True when the path at `start` is `name` or begins with `name/`, `name?` or `name#`. */
export function segmentIs(url: string, start: number, name: string): boolean {
  if (!url.startsWith(name, start)) return false;
  const next = start + name.length;
  if (next === url.length) return true;
  const c = url.charCodeAt(next);
  return c === 47 || c === 63 || c === 35; // "/", "?", "#"
}

/** True when the path at `start` is exactly `name` (any query or fragment may follow). */
export function pathIs(url: string, start: number, name: string): boolean {
  return segmentIs(url, start, name) && url.charCodeAt(start + name.length) !== 47; // "/"
}
